/*
 * README recipe: configuration from the environment with @nestjs/config
 * ---------------------------------------------------------------------
 *
 * // src/config/chabok.config.ts
 * import { registerAs } from '@nestjs/config';
 * import type { ChabokModuleOptions } from 'nestjs-chabok';
 *
 * // Unset variables stay undefined, so ChabokModule's defaults and boot-time checks apply:
 * // a missing token or a malformed CHABOK_TIMEOUT_MS stops the app with a clear message.
 * export const chabokConfig = registerAs('chabok', (): ChabokModuleOptions => ({
 *   appId: process.env.CHABOK_APP_ID || undefined,
 *   accessToken: process.env.CHABOK_ACCESS_TOKEN,
 *   environment: (process.env.CHABOK_ENVIRONMENT || undefined) as ChabokModuleOptions['environment'],
 *   baseUrl: process.env.CHABOK_BASE_URL || undefined,
 *   timeoutMs: process.env.CHABOK_TIMEOUT_MS ? Number(process.env.CHABOK_TIMEOUT_MS) : undefined,
 *   enabled: process.env.CHABOK_ENABLED !== 'false',
 * }));
 *
 * // src/app.module.ts
 * import { Module } from '@nestjs/common';
 * import { ConfigModule, type ConfigType } from '@nestjs/config';
 * import { ChabokModule } from 'nestjs-chabok';
 * import { chabokConfig } from './config/chabok.config';
 *
 * @Module({
 *   imports: [
 *     ConfigModule.forRoot(),
 *     ChabokModule.forRootAsync({
 *       imports: [ConfigModule.forFeature(chabokConfig)],
 *       inject: [chabokConfig.KEY],
 *       useFactory: (config: ConfigType<typeof chabokConfig>) => config,
 *     }),
 *   ],
 * })
 * export class AppModule {}
 *
 * # .env (production)
 * CHABOK_APP_ID=myapp
 * CHABOK_ACCESS_TOKEN=...            # from the Chabok panel, "access and tokens"
 * # CHABOK_ENVIRONMENT=sandbox       # send to https://sandbox.push.adpdigital.com/api instead
 * # CHABOK_BASE_URL=https://...      # a proxy in front of Chabok (overrides both)
 * # CHABOK_TIMEOUT_MS=5000
 * # CHABOK_ENABLED=false             # validate events but send nothing (local dev, CI)
 */
import { Inject, Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs, type ConfigType } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import {
  CHABOK_OPTIONS,
  ChabokConfigurationError,
  ChabokModule,
  EventTrackingService,
  type ChabokModuleOptions,
  type ChabokOptionsFactory,
  type ResolvedChabokOptions,
} from '../../src/index.js';

// --- the user's configuration, exactly as in the recipe above ---------------------------

const chabokConfig = registerAs('chabok', (): ChabokModuleOptions => ({
  appId: process.env.CHABOK_APP_ID || undefined,
  accessToken: process.env.CHABOK_ACCESS_TOKEN,
  environment: (process.env.CHABOK_ENVIRONMENT || undefined) as ChabokModuleOptions['environment'],
  baseUrl: process.env.CHABOK_BASE_URL || undefined,
  timeoutMs: process.env.CHABOK_TIMEOUT_MS ? Number(process.env.CHABOK_TIMEOUT_MS) : undefined,
  enabled: process.env.CHABOK_ENABLED !== 'false',
}));

const chabokFromConfig = () =>
  ChabokModule.forRootAsync({
    imports: [ConfigModule.forFeature(chabokConfig)],
    inject: [chabokConfig.KEY],
    useFactory: (config: ConfigType<typeof chabokConfig>) => config,
  });

/** A user's options factory class, reading ConfigService. */
@Injectable()
class ChabokConfigService implements ChabokOptionsFactory {
  calls = 0;
  constructor(@Inject(ConfigService) private readonly config: ConfigService) {}
  createChabokOptions(): ChabokModuleOptions {
    this.calls++;
    return {
      baseUrl: this.config.getOrThrow<string>('CHABOK_BASE_URL'),
      accessToken: this.config.getOrThrow<string>('CHABOK_ACCESS_TOKEN'),
      timeoutMs: Number(this.config.get('CHABOK_TIMEOUT_MS', 10_000)),
    };
  }
}

/** A module of the user's that already provides (and exports) the factory. */
@Module({ imports: [ConfigModule], providers: [ChabokConfigService], exports: [ChabokConfigService] })
class ChabokConfigModule {}

/** A feature module that uses tracking but does NOT import ChabokModule. */
@Injectable()
class CartService {
  constructor(@Inject(EventTrackingService) private readonly tracking: EventTrackingService) {}
  addToCart(userId: string, productId: number): Promise<void> {
    return this.tracking.track({ userId, eventName: 'addToCart', eventData: { productId } });
  }
}
@Module({ providers: [CartService], exports: [CartService] })
class CartModule {}

// --- test plumbing ----------------------------------------------------------------------

const TOKEN = 'SECRET-TOKEN-123';
const ENV_NAMES = [
  'CHABOK_APP_ID',
  'CHABOK_ACCESS_TOKEN',
  'CHABOK_ENVIRONMENT',
  'CHABOK_BASE_URL',
  'CHABOK_TIMEOUT_MS',
  'CHABOK_ENABLED',
] as const;

let standIn: ChabokStandIn;
let moduleRef: TestingModule | undefined;
let savedEnv: Record<string, string | undefined>;

beforeAll(async () => {
  standIn = await ChabokStandIn.start({ accessToken: TOKEN });
});

beforeEach(() => {
  savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));
  for (const name of ENV_NAMES) delete process.env[name];
  process.env.CHABOK_BASE_URL = standIn.baseUrl;
  process.env.CHABOK_ACCESS_TOKEN = TOKEN;
  process.env.CHABOK_TIMEOUT_MS = '5000';
});

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
  standIn.reset();
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

afterAll(async () => {
  await standIn.close();
});

async function boot(
  ...imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>
): Promise<TestingModule> {
  moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot({ ignoreEnvFile: true }), ...imports],
  }).compile();
  return moduleRef;
}

/** Tracks one event and waits until Chabok (the stand-in) accepted it. */
async function trackAndDeliver(tracking: EventTrackingService, userId: string): Promise<void> {
  const delivered = tracking.track({ userId, eventName: 'addToCart', eventData: { productId: 7 } });
  await tracking.flush();
  await delivered;
}

function expectDelivered(userId: string): void {
  expect(standIn.events()).toEqual([
    expect.objectContaining({ userId, eventName: 'addToCart', eventData: { productId: 7 } }),
  ]);
  expect(standIn.requests.map((r) => r.headers['x-access-token'])).toEqual([TOKEN]);
}

// --- tests ------------------------------------------------------------------------------

describe('forRootAsync', () => {
  it('useFactory with a registerAs config (ConfigModule.forFeature + inject) delivers events', async () => {
    const app = await boot(chabokFromConfig());

    const options = app.get<ResolvedChabokOptions>(CHABOK_OPTIONS);
    expect(options.baseUrl).toBe(standIn.baseUrl);
    expect(options.timeoutMs).toBe(5000);
    await trackAndDeliver(app.get(EventTrackingService), 'factory-user');

    expectDelivered('factory-user');
  });

  it('useClass: a ChabokOptionsFactory that injects ConfigService delivers events', async () => {
    const app = await boot(ChabokModule.forRootAsync({ imports: [ConfigModule], useClass: ChabokConfigService }));

    expect(app.get<ResolvedChabokOptions>(CHABOK_OPTIONS).timeoutMs).toBe(5000);
    await trackAndDeliver(app.get(EventTrackingService), 'class-user');

    expectDelivered('class-user');
  });

  it('useExisting: reuses the factory another module already provides, and delivers events', async () => {
    const app = await boot(
      ChabokConfigModule,
      ChabokModule.forRootAsync({ imports: [ChabokConfigModule], useExisting: ChabokConfigService }),
    );

    expect(app.get(ChabokConfigService).calls).toBe(1); // the existing instance made the options
    await trackAndDeliver(app.get(EventTrackingService), 'existing-user');

    expectDelivered('existing-user');
  });

  it('isGlobal: true lets a feature module that does not import ChabokModule inject EventTrackingService', async () => {
    const app = await boot(
      ChabokModule.forRootAsync({
        isGlobal: true,
        imports: [ConfigModule.forFeature(chabokConfig)],
        inject: [chabokConfig.KEY],
        useFactory: (config: ConfigType<typeof chabokConfig>) => config,
      }),
      CartModule,
    );

    const delivered = app.get(CartService).addToCart('global-user', 7);
    await app.get(EventTrackingService).flush();
    await delivered;

    expectDelivered('global-user');
  });

  it('without isGlobal, that feature module cannot resolve EventTrackingService', async () => {
    await expect(boot(chabokFromConfig(), CartModule)).rejects.toThrow(/EventTrackingService/);
    expect(standIn.requests).toHaveLength(0);
  });
});

describe('environment variables', () => {
  it("CHABOK_ENVIRONMENT=sandbox (and no CHABOK_BASE_URL) targets Chabok's sandbox host", async () => {
    delete process.env.CHABOK_BASE_URL;
    process.env.CHABOK_ENVIRONMENT = 'sandbox';

    const app = await boot(chabokFromConfig());

    expect(app.get<ResolvedChabokOptions>(CHABOK_OPTIONS).baseUrl).toBe('https://sandbox.push.adpdigital.com/api');
  });

  it("CHABOK_APP_ID (and no CHABOK_BASE_URL) targets the app's production host", async () => {
    delete process.env.CHABOK_BASE_URL;
    process.env.CHABOK_APP_ID = 'myapp';

    const app = await boot(chabokFromConfig());

    expect(app.get<ResolvedChabokOptions>(CHABOK_OPTIONS).baseUrl).toBe('https://myapp.push.adpdigital.com/api');
  });

  it('CHABOK_ENABLED=false validates events but sends nothing', async () => {
    process.env.CHABOK_ENABLED = 'false';
    const app = await boot(chabokFromConfig());
    const tracking = app.get(EventTrackingService);

    await expect(tracking.track({ userId: 'u1', eventName: '' })).rejects.toThrow('eventName: should not be empty');
    await trackAndDeliver(tracking, 'disabled-user');

    expect(standIn.requests).toHaveLength(0);
  });
});

describe('bad configuration from the environment fails boot with ChabokConfigurationError', () => {
  async function bootFailure(): Promise<ChabokConfigurationError> {
    const error = await boot(chabokFromConfig()).then(
      () => new Error('the app booted'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ChabokConfigurationError);
    const failure = error as ChabokConfigurationError;
    expect(failure.message).not.toContain(TOKEN);
    expect(JSON.stringify(failure)).not.toContain(TOKEN);
    return failure;
  }

  it('when CHABOK_ACCESS_TOKEN is unset', async () => {
    delete process.env.CHABOK_ACCESS_TOKEN;
    expect((await bootFailure()).violations).toEqual([{ path: 'accessToken', reason: 'is required' }]);
  });

  it('when CHABOK_TIMEOUT_MS is not a number and CHABOK_APP_ID is not a DNS label, listing both', async () => {
    delete process.env.CHABOK_BASE_URL;
    process.env.CHABOK_APP_ID = 'evil.com/x';
    process.env.CHABOK_TIMEOUT_MS = '5s';

    expect((await bootFailure()).violations.map((v) => v.path)).toEqual(['appId', 'timeoutMs']);
  });

  it('when CHABOK_BASE_URL is plain http to a public host', async () => {
    process.env.CHABOK_BASE_URL = 'http://chabok.example.com/api';
    expect((await bootFailure()).violations).toEqual([
      { path: 'baseUrl', reason: 'must use https (plain http is allowed only on a loopback address)' },
    ]);
  });
});
