import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CHABOK_OPTIONS, type ResolvedChabokOptions } from 'nestjs-chabok';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { AppModule } from './app.module.js';
import { chabokTargetInEnv } from './chabok.config.js';
import { describeEvent } from './describe-event.js';

export interface SampleOptions {
  /** Port for the app; 0 picks a free one. Default 3000. */
  port?: number;
  /** Address the app listens on. Default 127.0.0.1: the fake auth trusts a header, so keep it local. */
  host?: string;
  /** Passed to NestFactory.create (e.g. a logger that records lines, in tests). */
  logger?: LoggerService;
}

export interface RunningSample {
  app: INestApplication;
  /** The app's own URL, e.g. http://127.0.0.1:3000 */
  url: string;
  /** 'stand-in': no Chabok in the environment, events go to the embedded local stand-in. */
  mode: 'stand-in' | 'chabok';
  /** Where events are sent (never contains the token). */
  chabokBaseUrl: string;
  /** The embedded stand-in, in stand-in mode. */
  standIn?: ChabokStandIn;
  /** Stops the app (flushing queued events), then the stand-in. */
  close(): Promise<void>;
}

/**
 * Starts the sample app. Without CHABOK_APP_ID, CHABOK_ENVIRONMENT=sandbox or CHABOK_BASE_URL
 * in the environment it first starts the local Chabok stand-in on 127.0.0.1 and points the
 * app at it, exactly as `CHABOK_BASE_URL=<stand-in> CHABOK_ACCESS_TOKEN=<its token>` would,
 * and prints every event the stand-in receives.
 */
export async function bootstrap(options: SampleOptions = {}): Promise<RunningSample> {
  const standIn = chabokTargetInEnv() ? undefined : await startStandIn();
  const restoreEnv = standIn
    ? setEnv({ CHABOK_BASE_URL: standIn.baseUrl, CHABOK_ACCESS_TOKEN: standIn.accessToken })
    : () => undefined;

  let app: INestApplication | undefined;
  try {
    // abortOnError: false, so a bad setting rejects here (and the stand-in is closed) instead of exiting.
    app = await NestFactory.create(AppModule, {
      abortOnError: false,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    app.enableShutdownHooks();
    await app.listen(options.port ?? 3000, options.host ?? '127.0.0.1');
  } catch (error) {
    await app?.close().catch(() => undefined);
    await standIn?.close();
    restoreEnv();
    throw error;
  }

  const url = await app.getUrl();
  const { baseUrl } = app.get<ResolvedChabokOptions>(CHABOK_OPTIONS);
  const running: RunningSample = {
    app,
    url,
    mode: standIn ? 'stand-in' : 'chabok',
    chabokBaseUrl: baseUrl,
    standIn,
    async close() {
      await app.close();
      await standIn?.close();
      restoreEnv();
    },
  };
  logStartup(running);
  return running;
}

async function startStandIn(): Promise<ChabokStandIn> {
  const logger = new Logger('ChabokStandIn');
  return ChabokStandIn.start({ onEvent: (event) => logger.log(describeEvent(event)) });
}

/** Sets environment variables; returns a function that puts the old values back. */
function setEnv(values: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  Object.assign(process.env, values);
  return () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

function logStartup({ url, mode, chabokBaseUrl }: RunningSample): void {
  const logger = new Logger('Sample');
  if (mode === 'stand-in') {
    logger.log(
      `No Chabok in the environment: events go to the local stand-in at ${chabokBaseUrl} and are printed below`,
    );
    logger.log('(set CHABOK_APP_ID or CHABOK_ENVIRONMENT=sandbox, plus CHABOK_ACCESS_TOKEN, to send them to Chabok)');
  } else {
    logger.log(`Sending events to Chabok at ${chabokBaseUrl}`);
  }
  logger.log(`Listening on ${url}. Try:`);
  for (const command of curlCommands(url)) logger.log(`  ${command}`);
}

/** The commands the README shows, for this app's URL. */
export function curlCommands(url: string): string[] {
  const json = `-H 'content-type: application/json'`;
  return [
    `curl ${url}/products/12345 -H 'x-user-id: 42'`,
    `curl ${url}/products/777 -H 'x-chabok-installation-id: device-7'`,
    `curl -X POST ${url}/cart/items -H 'x-user-id: 42' ${json} -d '{"productId":12345,"quantity":2}'`,
    `curl -X POST ${url}/orders -H 'x-user-id: 42' ${json} -d '{"revenue":250000}'`,
  ];
}
