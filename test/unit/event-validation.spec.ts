/**
 * Every rule an event must pass before anything is queued. A refused event rejects with a
 * ChabokValidationError listing each violation (path and reason), and nothing reaches
 * Chabok: each case runs against the real stand-in, flushes, and checks it got no request.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Test, type TestingModule } from '@nestjs/testing';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import {
  ChabokError,
  ChabokModule,
  ChabokValidationError,
  EVENT_DATA_LIMITS,
  EVENT_FIELD_LIMITS,
  EventTrackingService,
  type ChabokViolation,
  type EventData,
} from '../../src/index.js';

let standIn: ChabokStandIn;
let moduleRef: TestingModule;
let tracking: EventTrackingService;

beforeAll(async () => {
  standIn = await ChabokStandIn.start();
  moduleRef = await Test.createTestingModule({
    imports: [ChabokModule.forRoot({ baseUrl: standIn.baseUrl, accessToken: standIn.accessToken, flushIntervalMs: 5 })],
  }).compile();
  tracking = moduleRef.get(EventTrackingService);
});

afterEach(() => standIn.reset());

afterAll(async () => {
  await moduleRef.close();
  await standIn.close();
});

/** The call must reject with exactly these violations, and Chabok must hear nothing. */
async function expectRefused(
  call: (t: EventTrackingService) => Promise<void>,
  violations: ChabokViolation[],
): Promise<void> {
  const acceptedBefore = tracking.stats().accepted;
  const error = await call(tracking).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChabokValidationError);
  expect(error).toBeInstanceOf(ChabokError);
  const refusal = error as ChabokValidationError;
  expect(refusal.code).toBe('CHABOK_INVALID_EVENT');
  expect(refusal.violations).toEqual(violations);
  for (const v of violations) expect(refusal.message).toContain(`- ${v.path}: ${v.reason}`);

  await tracking.flush();
  expect(tracking.stats().accepted).toBe(acceptedBefore);
  expect(standIn.requests).toHaveLength(0);
}

const v = (path: string, reason: string): ChabokViolation => ({ path, reason });
const ok = { userId: 'u1', eventName: 'addToCart' } as const;
/** Inputs that break the types on purpose, as untyped callers (JS, JSON, `any`) would. */
const untyped = (input: unknown) => input as never;

describe('identity', () => {
  it('refuses an event with neither userId nor installationId', () =>
    expectRefused(
      (t) => t.track(untyped({ eventName: 'addToCart' })),
      [v('userId|installationId', 'one of userId or installationId is required')],
    ));

  it('refuses an event with both userId and installationId', () =>
    expectRefused(
      (t) => t.track(untyped({ userId: 'u1', installationId: 'i1', eventName: 'addToCart' })),
      [v('userId|installationId', 'give exactly one of userId or installationId, not both')],
    ));

  it('refuses an empty userId', () =>
    expectRefused((t) => t.track({ ...ok, userId: '' }), [v('userId', 'should not be empty')]));

  it('refuses an empty installationId', () =>
    expectRefused(
      (t) => t.track({ installationId: '', eventName: 'appOpened' }),
      [v('installationId', 'should not be empty')],
    ));

  it(`refuses a userId longer than ${EVENT_FIELD_LIMITS.maxIdLength} characters`, () =>
    expectRefused(
      (t) => t.track({ ...ok, userId: 'u'.repeat(EVENT_FIELD_LIMITS.maxIdLength + 1) }),
      [v('userId', `must be shorter than or equal to ${EVENT_FIELD_LIMITS.maxIdLength} characters`)],
    ));

  it(`refuses an installationId longer than ${EVENT_FIELD_LIMITS.maxIdLength} characters`, () =>
    expectRefused(
      (t) => t.track({ installationId: 'i'.repeat(EVENT_FIELD_LIMITS.maxIdLength + 1), eventName: 'appOpened' }),
      [v('installationId', `must be shorter than or equal to ${EVENT_FIELD_LIMITS.maxIdLength} characters`)],
    ));

  it('refuses a null userId rather than sending "userId": null', () =>
    expectRefused(
      (t) => t.track(untyped({ ...ok, userId: null })),
      [v('userId', 'must not be null (leave it out instead)')],
    ));
});

describe('eventName', () => {
  it('refuses an empty eventName', () =>
    expectRefused((t) => t.track({ ...ok, eventName: '' }), [v('eventName', 'should not be empty')]));
  it('refuses a missing eventName with one clear line', () =>
    expectRefused((t) => t.track(untyped({ userId: 'u1' })), [v('eventName', 'is required')]));
  it('refuses a non-string userId by its type alone, not its length', () =>
    expectRefused(
      (t) => t.track(untyped({ userId: 4.2, eventName: 'x' })),
      [v('userId', 'must be a string (or a safe integer)')],
    ));

  it(`refuses an eventName longer than ${EVENT_FIELD_LIMITS.maxEventNameLength} characters`, () =>
    expectRefused(
      (t) => t.track({ ...ok, eventName: 'e'.repeat(EVENT_FIELD_LIMITS.maxEventNameLength + 1) }),
      [v('eventName', `must be shorter than or equal to ${EVENT_FIELD_LIMITS.maxEventNameLength} characters`)],
    ));

  it.each([
    ['a newline', 'add\nToCart'],
    ['a NUL', 'add\u0000ToCart'],
    ['DEL', 'add\u007fToCart'],
    ['a leading space', ' addToCart'],
  ])('refuses an eventName with %s', (_, eventName) =>
    expectRefused(
      (t) => t.track({ ...ok, eventName }),
      [v('eventName', 'must not contain control characters or surrounding spaces')],
    ),
  );
});

describe('unknown fields', () => {
  it('refuses an unknown top-level field instead of silently dropping it', () =>
    expectRefused(
      (t) => t.track(untyped({ ...ok, eventDate: 1_700_000_000_000 })),
      [v('eventDate', 'is not a known field')],
    ));

  it('refuses eventName on trackRevenue (Chabok names that event Purchase)', () =>
    expectRefused(
      (t) => t.trackRevenue(untyped({ userId: 'u1', revenue: 1000, eventName: 'checkout' })),
      [v('eventName', 'is not a known field')],
    ));
});

describe('eventTime', () => {
  const notATime = 'must be a valid Date or an integer of epoch milliseconds';
  const looksLikeSeconds = 'must be epoch milliseconds after 2000-01-01 (this looks like seconds or a negative number)';

  it('refuses an invalid Date', () =>
    expectRefused((t) => t.track({ ...ok, eventTime: new Date('not a date') }), [v('eventTime', notATime)]));
  it('refuses NaN', () => expectRefused((t) => t.track({ ...ok, eventTime: NaN }), [v('eventTime', notATime)]));
  it('refuses a fractional number', () =>
    expectRefused((t) => t.track({ ...ok, eventTime: 1_700_000_000_000.5 }), [v('eventTime', notATime)]));
  it('refuses a string', () =>
    expectRefused(
      (t) => t.track(untyped({ ...ok, eventTime: '2020-02-06T12:12:25.408Z' })),
      [v('eventTime', notATime)],
    ));
  it('refuses a negative number', () =>
    expectRefused((t) => t.track({ ...ok, eventTime: -1 }), [v('eventTime', looksLikeSeconds)]));
  it('refuses epoch seconds', () =>
    expectRefused((t) => t.track({ ...ok, eventTime: 1_700_000_000 }), [v('eventTime', looksLikeSeconds)]));
});

describe('eventData must be a plain object', () => {
  class Cart {
    items = 1;
  }
  it.each<[string, unknown, string]>([
    ['an array', ['milk'], 'must be a plain object (got an array)'],
    ['a string', 'milk', 'must be a plain object (got a string)'],
    ['a Map', new Map([['productId', 1]]), 'must be a plain object (got a Map object)'],
    ['a class instance', new Cart(), 'must be a plain object (got a Cart object)'],
    ['null', null, 'must not be null (leave it out instead)'],
  ])('refuses %s', (_, eventData, reason) =>
    expectRefused((t) => t.track(untyped({ ...ok, eventData })), [v('eventData', reason)]),
  );
});

describe('eventData values must be JSON-safe', () => {
  it.each<[string, unknown, string]>([
    ['a function', () => 1, 'is a function, which is not JSON-safe'],
    ['a symbol', Symbol('x'), 'is a symbol, which is not JSON-safe'],
    ['a bigint', 10n, 'is a bigint, which is not JSON-safe'],
    ['NaN', NaN, 'must be a finite number (got NaN)'],
    ['Infinity', Infinity, 'must be a finite number (got Infinity)'],
    ['-Infinity', -Infinity, 'must be a finite number (got -Infinity)'],
    ['undefined', undefined, 'must not be undefined (JSON would drop it); omit the key or use null'],
    ['an invalid Date', new Date('nope'), 'is an invalid Date'],
    [
      'a Set',
      new Set([1]),
      'is a Set object; only plain objects, arrays, strings, numbers, booleans, null and Dates are allowed',
    ],
  ])('refuses %s, wherever it is nested', (_, value, reason) =>
    expectRefused(
      (t) => t.track(untyped({ ...ok, eventData: { price: value, items: [{ price: value }] } })),
      [v('eventData.price', reason), v('eventData.items[0].price', reason)],
    ),
  );

  it('refuses a circular reference', () => {
    const cart: Record<string, unknown> = { productId: 1 };
    cart.self = cart;
    return expectRefused(
      (t) => t.track(untyped({ ...ok, eventData: { cart } })),
      [v('eventData.cart.self', 'is a circular reference')],
    );
  });

  it('accepts the same object twice when it is not circular (a DAG)', async () => {
    const shared = { sku: 'milk' };
    await tracking.track({ ...ok, eventData: { first: shared, second: shared } });
    expect(standIn.events()[0]!.eventData).toEqual({ first: { sku: 'milk' }, second: { sku: 'milk' } });
  });
});

describe('eventData limits', () => {
  /** An object nested `levels` deep below eventData: { l1: { l2: ... {} } }. */
  const nested = (levels: number): EventData => {
    let data: EventData = {};
    for (let i = levels; i >= 1; i--) data = { [`l${i}`]: data };
    return data;
  };
  const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  /** eventData {"s":"…"} of exactly `bytes` bytes of JSON. */
  const ofBytes = (bytes: number) => ({ s: 'x'.repeat(bytes - '{"s":""}'.length) });

  it(`refuses nesting deeper than maxDepth (${EVENT_DATA_LIMITS.maxDepth})`, () =>
    expectRefused(
      (t) => t.track({ ...ok, eventData: nested(EVENT_DATA_LIMITS.maxDepth + 1) }),
      [v('eventData.l1.l2.l3.l4.l5.l6', `nests deeper than ${EVENT_DATA_LIMITS.maxDepth} levels`)],
    ));

  it(`refuses more than maxKeys (${EVENT_DATA_LIMITS.maxKeys}) keys in one object`, () =>
    expectRefused(
      (t) => t.track({ ...ok, eventData: keys(EVENT_DATA_LIMITS.maxKeys + 1) }),
      [v('eventData', `has ${EVENT_DATA_LIMITS.maxKeys + 1} keys; at most ${EVENT_DATA_LIMITS.maxKeys} are allowed`)],
    ));

  it(`refuses a key longer than maxKeyLength (${EVENT_DATA_LIMITS.maxKeyLength})`, () => {
    const key = 'k'.repeat(EVENT_DATA_LIMITS.maxKeyLength + 1);
    return expectRefused(
      (t) => t.track({ ...ok, eventData: { [key]: 1 } }),
      [v(`eventData.${key.slice(0, 32)}…`, `key is longer than ${EVENT_DATA_LIMITS.maxKeyLength} characters`)],
    );
  });

  it(`refuses more than maxBytes (${EVENT_DATA_LIMITS.maxBytes}) of JSON`, () =>
    expectRefused(
      (t) => t.track({ ...ok, eventData: ofBytes(EVENT_DATA_LIMITS.maxBytes + 1) }),
      [
        v(
          'eventData',
          `is ${EVENT_DATA_LIMITS.maxBytes + 1} bytes as JSON; at most ${EVENT_DATA_LIMITS.maxBytes} are allowed`,
        ),
      ],
    ));

  it('delivers events exactly at every limit', async () => {
    const atLimits = [
      {
        userId: 'u'.repeat(EVENT_FIELD_LIMITS.maxIdLength),
        eventName: 'e'.repeat(EVENT_FIELD_LIMITS.maxEventNameLength),
      },
      { ...ok, eventTime: Date.UTC(2000, 0, 1), eventData: nested(EVENT_DATA_LIMITS.maxDepth) },
      { ...ok, eventData: keys(EVENT_DATA_LIMITS.maxKeys) },
      { ...ok, eventData: { ['k'.repeat(EVENT_DATA_LIMITS.maxKeyLength)]: 1 } },
      { ...ok, eventData: ofBytes(EVENT_DATA_LIMITS.maxBytes) },
    ];

    await tracking.trackMany(atLimits);

    expect(standIn.events()).toHaveLength(atLimits.length);
    expect(standIn.events().map((e) => e.eventData)).toEqual(
      atLimits.map((e) => ('eventData' in e ? e.eventData : undefined)),
    );
  });
});

describe('revenue', () => {
  // One line per problem: a failed type check hides the range check, a missing field says so.
  const notANumber = v('revenue', 'must be a finite number');
  const negative = v('revenue', 'must not be less than 0');
  const missing = v('revenue', 'is required');

  it('trackPurchase refuses a missing revenue', () =>
    expectRefused((t) => t.trackPurchase(untyped({ ...ok, eventName: 'checkout' })), [missing]));
  it('trackRevenue refuses a missing revenue', () =>
    expectRefused((t) => t.trackRevenue(untyped({ userId: 'u1' })), [missing]));
  it('refuses NaN revenue', () => expectRefused((t) => t.trackRevenue({ userId: 'u1', revenue: NaN }), [notANumber]));
  it('refuses Infinity revenue', () =>
    expectRefused((t) => t.trackRevenue({ userId: 'u1', revenue: Infinity }), [notANumber]));
  it('refuses negative revenue', () =>
    expectRefused((t) => t.trackPurchase({ ...ok, eventName: 'refund', revenue: -1 }), [negative]));
  it('refuses a null currency', () =>
    expectRefused(
      (t) => t.trackRevenue(untyped({ userId: 'u1', revenue: 1, currency: null })),
      [v('currency', 'must not be null (leave it out instead)')],
    ));
  it(`refuses a currency longer than ${EVENT_FIELD_LIMITS.maxCurrencyLength} characters`, () =>
    expectRefused(
      (t) =>
        t.trackRevenue({ userId: 'u1', revenue: 1, currency: 'R'.repeat(EVENT_FIELD_LIMITS.maxCurrencyLength + 1) }),
      [v('currency', `must be shorter than or equal to ${EVENT_FIELD_LIMITS.maxCurrencyLength} characters`)],
    ));
});

describe('several problems at once', () => {
  it('lists every violation, not only the first', () =>
    expectRefused(
      (t) =>
        t.track(
          untyped({
            eventName: '',
            eventTime: 1_700_000_000,
            eventData: { price: NaN, at: new Date('nope') },
            extra: true,
          }),
        ),
      [
        v('extra', 'is not a known field'),
        v('eventName', 'should not be empty'),
        v('userId|installationId', 'one of userId or installationId is required'),
        v('eventTime', 'must be epoch milliseconds after 2000-01-01 (this looks like seconds or a negative number)'),
        v('eventData.price', 'must be a finite number (got NaN)'),
        v('eventData.at', 'is an invalid Date'),
      ],
    ));
});

describe('trackMany', () => {
  it('queues none of the events when one is bad, and names it by index', () =>
    expectRefused(
      (t) => t.trackMany([ok, { userId: 'u2', eventName: '' }, { installationId: 'i3', eventName: 'appOpened' }]),
      [v('[1].eventName', 'should not be empty')],
    ));

  it('indexes violations of several bad events', () =>
    expectRefused(
      (t) => t.trackMany([untyped({ eventName: 'a' }), ok, { ...ok, eventData: { n: NaN } }]),
      [
        v('[0].userId|installationId', 'one of userId or installationId is required'),
        v('[2].eventData.n', 'must be a finite number (got NaN)'),
      ],
    ));

  it('refuses a non-array', () => expectRefused((t) => t.trackMany(untyped(ok)), [v('(events)', 'must be an array')]));

  it('refuses an element that is not an object', () =>
    expectRefused((t) => t.trackMany(untyped([ok, 'oops'])), [v('[1].(event)', 'must be an object')]));
});

describe('fire-and-forget calls with invalid input', () => {
  // Jest replaces `process` inside a test file with a sandboxed copy whose listeners never
  // see the real process's events, so this runs in a plain Node process against the built
  // library (as a user's app would) and listens on its real 'unhandledRejection'.
  const script = `
    import { NestFactory } from '@nestjs/core';
    import { ChabokModule, EventTrackingService } from 'nestjs-chabok';
    let unhandled = 0;
    process.on('unhandledRejection', () => { unhandled++; });
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    const app = await NestFactory.createApplicationContext(
      ChabokModule.forRoot({ baseUrl: process.env.CHABOK_BASE_URL, accessToken: process.env.CHABOK_ACCESS_TOKEN, flushIntervalMs: 5 }),
      { logger: false },
    );
    const tracking = app.get(EventTrackingService);
    tracking.track({ userId: 'u1', eventName: '' });
    tracking.track({ eventName: 'addToCart' });
    tracking.trackMany([{ userId: 'u1', eventName: 'ok' }, { userId: 'u2' }]);
    tracking.trackMany('not an array');
    tracking.trackPurchase({ userId: 'u1', eventName: 'checkout' });
    tracking.trackRevenue({ userId: 'u1', revenue: -1 });
    await tracking.flush();
    await nextTurn(); await nextTurn();
    const fromLibrary = unhandled;
    Promise.reject(new Error('control: proves the listener sees unhandled rejections'));
    await nextTurn(); await nextTurn();
    await app.close();
    console.log(JSON.stringify({ fromLibrary, withControl: unhandled }));
  `;

  it('cause no unhandledRejection (and send nothing)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, CHABOK_BASE_URL: standIn.baseUrl, CHABOK_ACCESS_TOKEN: standIn.accessToken },
      timeout: 30_000,
    });

    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ fromLibrary: 0, withControl: 1 });
    expect(standIn.requests).toHaveLength(0);
  }, 40_000);
});
