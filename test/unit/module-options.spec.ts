/**
 * ChabokModule options are checked once, at boot: a bad option stops the app with ONE
 * ChabokConfigurationError listing every bad field, and never with the token in it.
 */
import type { LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import {
  CHABOK_OPTIONS,
  ChabokConfigurationError,
  ChabokError,
  ChabokModule,
  ChabokValidationError,
  EventTrackingService,
  type ChabokModuleOptions,
  type ChabokViolation,
  type ResolvedChabokOptions,
} from '../../src/index.js';

const TOKEN = 'SECRET-TOKEN-123';
/** A loopback base URL nothing listens on: these apps never send. */
const LOOPBACK = 'http://127.0.0.1:9/api';
const valid = { baseUrl: LOOPBACK, accessToken: TOKEN } as const;

/** Everything Nest logs while booting, to check the token is not in it either. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...args: unknown[]) {
    this.lines.push(args.map(String).join(' '));
  }
  error(...args: unknown[]) {
    this.lines.push(args.map(String).join(' '));
  }
  warn(...args: unknown[]) {
    this.lines.push(args.map(String).join(' '));
  }
  debug(...args: unknown[]) {
    this.lines.push(args.map(String).join(' '));
  }
  verbose(...args: unknown[]) {
    this.lines.push(args.map(String).join(' '));
  }
}

let booted: TestingModule | undefined;
afterEach(async () => {
  await booted?.close();
  booted = undefined;
});

async function boot(options: unknown): Promise<TestingModule> {
  booted = await Test.createTestingModule({
    imports: [ChabokModule.forRoot(options as ChabokModuleOptions)],
  }).compile();
  return booted;
}

/** Boots with `options`, expects the boot to fail, and returns the error's violations. */
async function bootFailure(options: unknown): Promise<readonly ChabokViolation[]> {
  const logger = new CapturingLogger();
  const outcome = await Test.createTestingModule({ imports: [ChabokModule.forRoot(options as ChabokModuleOptions)] })
    .setLogger(logger)
    .compile()
    .then(
      async (moduleRef) => {
        await moduleRef.close();
        return new Error('the app booted');
      },
      (error: unknown) => error,
    );
  expect(outcome).toBeInstanceOf(ChabokConfigurationError);
  expect(outcome).toBeInstanceOf(ChabokError);
  const error = outcome as ChabokConfigurationError;
  expect(error.code).toBe('CHABOK_INVALID_OPTIONS');
  expect(error.message).toContain('Invalid ChabokModule options:');
  for (const v of error.violations) expect(error.message).toContain(`- ${v.path}: ${v.reason}`);
  for (const text of [error.message, String(error.stack), JSON.stringify(error), ...logger.lines]) {
    expect(text).not.toContain(TOKEN);
  }
  return error.violations;
}

const v = (path: string, reason: string): ChabokViolation => ({ path, reason });
const DNS_LABEL_REASON =
  "must be a single DNS label (letters, digits and '-', at most 63), without dots, slashes, '@' or spaces";

describe('boot fails with ChabokConfigurationError', () => {
  describe('access token', () => {
    it('when it is missing', async () => {
      expect(await bootFailure({ baseUrl: LOOPBACK })).toEqual([v('accessToken', 'is required')]);
    });
    it('when it is empty (an unset env variable)', async () => {
      expect(await bootFailure({ baseUrl: LOOPBACK, accessToken: '' })).toEqual([v('accessToken', 'is required')]);
    });
    it('when it is not a string', async () => {
      expect(await bootFailure({ baseUrl: LOOPBACK, accessToken: 123 })).toEqual([
        v('accessToken', 'must be a string'),
      ]);
    });
    it('when it has white space (a pasted newline), without echoing it', async () => {
      expect(await bootFailure({ baseUrl: LOOPBACK, accessToken: `${TOKEN}\n` })).toEqual([
        v('accessToken', 'must not contain whitespace or control characters'),
      ]);
    });
  });

  describe('where events go', () => {
    it('when none of appId, environment and baseUrl is given', async () => {
      expect(await bootFailure({ accessToken: TOKEN })).toEqual([
        v('appId', "is required (or set environment: 'sandbox', or baseUrl)"),
      ]);
    });

    it.each([
      ['a host and path', 'evil.com/x'],
      ['a dot', 'a.b'],
      ['an @', 'x@y'],
      ['a space', 'a b'],
      ['64 characters (a DNS label has at most 63)', 'a'.repeat(64)],
      ['a leading dash', '-myapp'],
      ['nothing', ''],
    ])('when appId has %s', async (_, appId) => {
      expect(await bootFailure({ appId, accessToken: TOKEN })).toEqual([v('appId', DNS_LABEL_REASON)]);
    });

    it('when appId is not a string', async () => {
      expect(await bootFailure({ appId: 42, accessToken: TOKEN })).toEqual([v('appId', DNS_LABEL_REASON)]);
    });

    it("when environment is neither 'production' nor 'sandbox'", async () => {
      expect(await bootFailure({ appId: 'myapp', environment: 'staging', accessToken: TOKEN })).toEqual([
        v('environment', "must be 'production' or 'sandbox'"),
      ]);
    });

    it.each([
      [
        'plain http to a public host',
        'http://example.com/api',
        'must use https (plain http is allowed only on a loopback address)',
      ],
      [
        'plain http to a host that only starts like a loopback address',
        'http://127.0.0.1.evil.com/api',
        'must use https (plain http is allowed only on a loopback address)',
      ],
      [
        'plain http to a host that only starts like localhost',
        'http://localhost.evil.com/api',
        'must use https (plain http is allowed only on a loopback address)',
      ],
      ['another protocol', 'ftp://127.0.0.1/api', 'must use https (plain http is allowed only on a loopback address)'],
      ['not a URL', 'not a url', 'must be an absolute URL'],
      ['a relative path', '/api', 'must be an absolute URL'],
      [
        'credentials (the token, even)',
        `https://chabok:${TOKEN}@myapp.push.adpdigital.com/api`,
        'must not contain credentials',
      ],
      [
        'a query (the token, even)',
        `https://myapp.push.adpdigital.com/api?access_token=${TOKEN}`,
        'must not contain a query or fragment',
      ],
      ['a fragment', 'https://myapp.push.adpdigital.com/api#x', 'must not contain a query or fragment'],
    ])('when baseUrl has %s', async (_, baseUrl, reason) => {
      expect(await bootFailure({ baseUrl, accessToken: TOKEN })).toEqual([v('baseUrl', reason)]);
    });

    it('when baseUrl is not a string', async () => {
      expect(await bootFailure({ baseUrl: 443, accessToken: TOKEN })).toEqual([
        v('baseUrl', 'must be an absolute URL'),
      ]);
    });
  });

  describe('integer options', () => {
    const ranges: Record<string, [min: number, max: number]> = {
      timeoutMs: [1, 300_000],
      maxBatchSize: [1, 10_000],
      maxBatchBytes: [1_024, 16 * 1024 * 1024],
      flushIntervalMs: [0, 60_000],
      maxConcurrentRequests: [1, 64],
      maxQueueSize: [1, 10_000_000],
      maxQueueBytes: [1_024, 4 * 1024 * 1024 * 1024],
      deliveryDeadlineMs: [1, 7 * 24 * 3_600_000],
      retryBaseDelayMs: [1, 600_000],
      retryMaxDelayMs: [1, 3_600_000],
      shutdownTimeoutMs: [0, 600_000],
    };
    const cases = Object.entries(ranges).flatMap(([key, [min, max]]) =>
      [min - 1, max + 1, min + 0.5, `${min + 1}`, NaN, Infinity, null].map((value) => [key, value, min, max] as const),
    );

    it.each(cases)('when %s is %p', async (key, value, min, max) => {
      const violations = await bootFailure({ ...valid, [key]: value });
      expect(violations).toContainEqual(v(key, `must be an integer from ${min} to ${max}`));
      // The only other thing it may break is a cross-field rule against it
      // (e.g. maxQueueBytes: 1023 is also below the default maxBatchBytes).
      const others = violations.filter((x) => x.path !== key);
      expect(others).toEqual(others.filter((x) => x.reason === `must not exceed ${key}`));
    });

    it('when maxBatchBytes exceeds maxQueueBytes', async () => {
      expect(await bootFailure({ ...valid, maxBatchBytes: 1024 * 1024, maxQueueBytes: 1024 })).toEqual([
        v('maxBatchBytes', 'must not exceed maxQueueBytes'),
      ]);
    });

    it('when retryBaseDelayMs exceeds retryMaxDelayMs', async () => {
      expect(await bootFailure({ ...valid, retryBaseDelayMs: 2_000, retryMaxDelayMs: 1_000 })).toEqual([
        v('retryBaseDelayMs', 'must not exceed retryMaxDelayMs'),
      ]);
    });
  });

  describe('other options', () => {
    it.each<[string, string, unknown, string]>([
      ["overflow is 'nope'", 'overflow', 'nope', "must be 'drop-newest' or 'drop-oldest'"],
      ['identity is not a function', 'identity', 'user.id', 'must be a function'],
      ['onError is not a function', 'onError', console, 'must be a function'],
      ["enabled is the string 'false' (an unparsed env variable)", 'enabled', 'false', 'must be a boolean'],
      ['mountInterceptor is not a boolean', 'mountInterceptor', 1, 'must be a boolean'],
      ['installationIdHeader has spaces', 'installationIdHeader', 'x chabok id', 'must be a valid HTTP header name'],
      [
        'installationIdHeader smuggles a CRLF',
        'installationIdHeader',
        'x-id\r\nx-evil: 1',
        'must be a valid HTTP header name',
      ],
    ])('when %s', async (_, key, value, reason) => {
      expect(await bootFailure({ ...valid, [key]: value })).toEqual([v(key, reason)]);
    });

    it('when an option is unknown (a typo is not silently ignored)', async () => {
      expect(await bootFailure({ ...valid, flushInterval: 10 })).toEqual([
        v('flushInterval', 'is not a ChabokModule option'),
      ]);
    });

    it('when forRootAsync produces no options object', async () => {
      const outcome = await Test.createTestingModule({
        imports: [ChabokModule.forRootAsync({ useFactory: () => null as never })],
      })
        .compile()
        .then(
          async (m) => void (await m.close()),
          (e: unknown) => e,
        );
      expect(outcome).toBeInstanceOf(ChabokConfigurationError);
      expect((outcome as ChabokConfigurationError).violations).toEqual([v('options', 'must be an object')]);
    });
  });

  it('lists every bad field in ONE error', async () => {
    expect(
      await bootFailure({
        appId: 'evil.com/x',
        environment: 'staging',
        accessToken: TOKEN,
        timeoutMs: 0,
        maxBatchSize: 2.5,
        overflow: 'nope',
        identity: 'user.id',
        flushInterval: 10,
      }),
    ).toEqual([
      v('flushInterval', 'is not a ChabokModule option'),
      v('environment', "must be 'production' or 'sandbox'"),
      v('appId', DNS_LABEL_REASON),
      v('timeoutMs', 'must be an integer from 1 to 300000'),
      v('maxBatchSize', 'must be an integer from 1 to 10000'),
      v('overflow', "must be 'drop-newest' or 'drop-oldest'"),
      v('identity', 'must be a function'),
    ]);
  });

  it('never echoes a value, even the token pasted into the wrong fields', async () => {
    const violations = await bootFailure({
      accessToken: `Bearer ${TOKEN}`,
      environment: TOKEN,
      overflow: TOKEN,
      installationIdHeader: `${TOKEN}: x`,
      baseUrl: `http://${TOKEN}.example.com/api`,
    });
    expect(violations.map((x) => x.path)).toEqual([
      'environment',
      'baseUrl',
      'accessToken',
      'overflow',
      'installationIdHeader',
    ]);
  });
});

describe('boot succeeds', () => {
  it.each([
    ['http://127.0.0.1:8080/api', 'http://127.0.0.1:8080/api'],
    ['http://127.10.0.1:8080/api', 'http://127.10.0.1:8080/api'],
    ['http://localhost:8080/api/', 'http://localhost:8080/api'],
    ['http://[::1]:8080/api', 'http://[::1]:8080/api'],
    ['https://chabok-proxy.internal/api', 'https://chabok-proxy.internal/api'],
  ])('with baseUrl %s (loopback may use plain http)', async (baseUrl, resolved) => {
    const moduleRef = await boot({ baseUrl, accessToken: TOKEN });
    expect(moduleRef.get<ResolvedChabokOptions>(CHABOK_OPTIONS).baseUrl).toBe(resolved);
  });

  it('with every integer option at its minimum, and at its maximum', async () => {
    const min = await boot({
      ...valid,
      timeoutMs: 1,
      maxBatchSize: 1,
      maxBatchBytes: 1_024,
      flushIntervalMs: 0,
      maxConcurrentRequests: 1,
      maxQueueSize: 1,
      maxQueueBytes: 1_024,
      deliveryDeadlineMs: 1,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 1,
      shutdownTimeoutMs: 0,
    });
    expect(min.get<ResolvedChabokOptions>(CHABOK_OPTIONS).flushIntervalMs).toBe(0);
    await min.close();
    const max = await boot({
      ...valid,
      timeoutMs: 300_000,
      maxBatchSize: 10_000,
      maxBatchBytes: 16 * 1024 * 1024,
      flushIntervalMs: 60_000,
      maxConcurrentRequests: 64,
      maxQueueSize: 10_000_000,
      maxQueueBytes: 4 * 1024 * 1024 * 1024,
      deliveryDeadlineMs: 7 * 24 * 3_600_000,
      retryBaseDelayMs: 600_000,
      retryMaxDelayMs: 3_600_000,
      shutdownTimeoutMs: 600_000,
    });
    expect(max.get<ResolvedChabokOptions>(CHABOK_OPTIONS).maxQueueBytes).toBe(4 * 1024 * 1024 * 1024);
  });

  it('with undefined values (unset env variables) treated as absent', async () => {
    const moduleRef = await boot({
      ...valid,
      appId: undefined,
      environment: undefined,
      timeoutMs: undefined,
      enabled: undefined,
    });
    const resolved = moduleRef.get<ResolvedChabokOptions>(CHABOK_OPTIONS);
    expect(resolved.timeoutMs).toBe(10_000);
    expect(resolved.enabled).toBe(true);
  });
});

describe('enabled: false', () => {
  it('boots without accessToken or appId', async () => {
    const moduleRef = await boot({ enabled: false });
    expect(moduleRef.get<ResolvedChabokOptions>(CHABOK_OPTIONS).enabled).toBe(false);
    await expect(
      moduleRef.get(EventTrackingService).track({ userId: 'u1', eventName: 'addToCart' }),
    ).resolves.toBeUndefined();
  });

  describe('against a reachable Chabok', () => {
    let standIn: ChabokStandIn;
    beforeAll(async () => {
      standIn = await ChabokStandIn.start({ accessToken: TOKEN });
    });
    afterAll(async () => {
      await standIn.close();
    });

    it('still validates events but sends nothing', async () => {
      const tracking = (
        await boot({ enabled: false, baseUrl: standIn.baseUrl, accessToken: TOKEN, flushIntervalMs: 5 })
      ).get(EventTrackingService);

      await expect(tracking.track({ userId: 'u1', eventName: '' })).rejects.toBeInstanceOf(ChabokValidationError);
      await expect(tracking.track({ userId: 'u1', eventName: 'addToCart' })).resolves.toBeUndefined();
      await expect(
        tracking.trackMany([
          { userId: 'u1', eventName: 'a' },
          { installationId: 'i1', eventName: 'b' },
        ]),
      ).resolves.toBeUndefined();
      await expect(tracking.trackRevenue({ userId: 'u1', revenue: 1000 })).resolves.toBeUndefined();
      await tracking.flush();

      expect(standIn.requests).toHaveLength(0);
      expect(tracking.stats()).toMatchObject({ accepted: 0, queued: 0, batchesSent: 0 });
    });
  });
});
