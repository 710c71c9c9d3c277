/**
 * A user's Nest app, on Express or Fastify, wired to a local Chabok stand-in.
 *
 * @example
 * const harness = await startApp('fastify', { controllers: [CartController] });
 * await request(harness.url).post('/cart').set('x-chabok-installation-id', 'device-1').expect(201);
 * await harness.standIn.waitForEvents(1);
 * expect(harness.standIn.events()).toEqual([expect.objectContaining({ eventName: 'addToCart' })]);
 * await harness.close(); // the app (draining its queue), then the stand-in
 *
 * Everything Nest logs goes to {@link nestLogs} instead of the console.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { ChabokModule, EventTrackingService, type ChabokModuleOptions } from '../../src/index.js';
import { ChabokStandIn, type StandInOptions } from '../../stand-in/chabok-stand-in.js';

export type HttpAdapterName = 'express' | 'fastify';

/** Both adapters, for `describe.each(HTTP_ADAPTERS)`. */
export const HTTP_ADAPTERS: readonly HttpAdapterName[] = ['express', 'fastify'];

/**
 * Module options every harness app gets, so tests stay fast; `chabok` overrides them.
 * (`baseUrl` and `accessToken` always come from the stand-in unless overridden too.)
 */
export const HARNESS_CHABOK_DEFAULTS = {
  flushIntervalMs: 10,
  retryBaseDelayMs: 10,
  retryMaxDelayMs: 100,
  shutdownTimeoutMs: 1_000,
} as const satisfies Partial<ChabokModuleOptions>;

export interface AppHarnessOptions {
  /** The user's controllers. */
  controllers?: ModuleMetadata['controllers'];
  /** The user's providers (guards, services, APP_GUARD ...). */
  providers?: ModuleMetadata['providers'];
  /** Extra modules of the user's app, besides ChabokModule. */
  imports?: ModuleMetadata['imports'];
  /** ChabokModule.forRoot options, over {@link HARNESS_CHABOK_DEFAULTS}. */
  chabok?: Partial<ChabokModuleOptions>;
  /** Options of the stand-in; the access token defaults to a fresh random one. */
  standIn?: StandInOptions;
}

export interface AppHarness {
  readonly adapter: HttpAdapterName;
  readonly app: INestApplication;
  readonly standIn: ChabokStandIn;
  /** The app's EventTrackingService (for `flush()` and `stats()`). */
  readonly tracking: EventTrackingService;
  /** Where the app listens, e.g. `http://127.0.0.1:41234`; pass it to supertest's `request()`. */
  readonly url: string;
  /** Closes the app (its shutdown drain included), then the stand-in. Safe to call twice. */
  close(): Promise<void>;
}

import { RecordingLogger } from './recording-logger.js';
export { RecordingLogger, type LogLine } from './recording-logger.js';

/**
 * Nest's Logger is process-wide (Logger.overrideLogger), so one recorder serves every app
 * of a test file: whatever any of them logged is here. Clear it where a test starts
 * counting.
 */
export const nestLogs = new RecordingLogger();

/** Builds, initialises and starts the app on 127.0.0.1, port 0, with ChabokModule pointing at a fresh stand-in. */
export async function startApp(adapter: HttpAdapterName, options: AppHarnessOptions = {}): Promise<AppHarness> {
  const standIn = await ChabokStandIn.start({
    accessToken: `e2e-token-${randomBytes(12).toString('hex')}`,
    ...options.standIn,
  });
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChabokModule.forRoot({
          baseUrl: standIn.baseUrl,
          accessToken: standIn.accessToken,
          ...HARNESS_CHABOK_DEFAULTS,
          ...options.chabok,
        }),
        ...(options.imports ?? []),
      ],
      controllers: options.controllers ?? [],
      providers: options.providers ?? [],
    })
      .setLogger(nestLogs)
      .compile();
    app =
      adapter === 'fastify'
        ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter())
        : moduleRef.createNestApplication(new ExpressAdapter());
    await app.init();
    if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
    await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const tracking = app.get(EventTrackingService);
    const started = app;
    let closed: Promise<void> | undefined;
    return {
      adapter,
      app: started,
      standIn,
      tracking,
      url,
      close: () => (closed ??= started.close().finally(() => standIn.close())),
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await standIn.close();
    throw error;
  }
}
