/**
 * What EventTrackingService puts on the wire, byte for byte, as Chabok's API guide
 * describes it: method, path, headers and the JSON body of single, bulk and revenue events.
 * Everything is checked at the local Chabok stand-in (real HTTP over loopback).
 */
import { Test, type TestingModule } from '@nestjs/testing';
import { ChabokStandIn, type RecordedRequest } from '../../stand-in/chabok-stand-in.js';
import {
  CHABOK_OPTIONS,
  ChabokModule,
  EventTrackingService,
  type ChabokModuleOptions,
  type ResolvedChabokOptions,
} from '../../src/index.js';

const TOKEN = 'SECRET-TOKEN-123';
/** 2019-12-10T08:08:48.110Z, the eventTime of Chabok's own bulk example. */
const EVENT_TIME = 1575965328110;

let standIn: ChabokStandIn;
let moduleRef: TestingModule | undefined;

beforeAll(async () => {
  standIn = await ChabokStandIn.start({ accessToken: TOKEN });
});

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
  standIn.reset();
});

afterAll(async () => {
  await standIn.close();
});

/** A user's app: ChabokModule.forRoot pointed at the stand-in. */
async function boot(options: Partial<ChabokModuleOptions> = {}): Promise<EventTrackingService> {
  moduleRef = await Test.createTestingModule({
    imports: [ChabokModule.forRoot({ baseUrl: standIn.baseUrl, accessToken: TOKEN, flushIntervalMs: 10, ...options })],
  }).compile();
  return moduleRef.get(EventTrackingService);
}

function onlyRequest(): RecordedRequest {
  expect(standIn.requests).toHaveLength(1);
  return standIn.requests[0]!;
}

function expectChabokRequest(req: RecordedRequest, path: string): void {
  expect(req.method).toBe('POST');
  expect(req.path).toBe(path);
  expect(req.headers['x-access-token']).toBe(TOKEN);
  expect(req.headers['content-type']).toBe('application/json');
  expect(req.headers['content-length']).toBe(String(Buffer.byteLength(req.raw)));
  expect(req.status).toBe(200);
}

describe('a single event', () => {
  it('by userId is POSTed to /installations/track as one JSON object with the token header', async () => {
    const tracking = await boot();

    await tracking.track({
      userId: '09331952921',
      eventName: 'addToCart',
      eventTime: EVENT_TIME,
      eventData: { productId: 12345, productName: 'milk' },
    });

    const req = onlyRequest();
    expectChabokRequest(req, '/api/installations/track');
    expect(req.raw).toBe(
      '{"userId":"09331952921","eventName":"addToCart","eventTime":1575965328110,"eventData":{"productId":12345,"productName":"milk"}}',
    );
    expect(Array.isArray(req.body)).toBe(false);
    expect(standIn.accepted).toEqual([
      {
        endpoint: 'track',
        bulk: false,
        event: {
          userId: '09331952921',
          eventName: 'addToCart',
          eventTime: EVENT_TIME,
          eventData: { productId: 12345, productName: 'milk' },
        },
      },
    ]);
  });

  it('by installationId carries installationId and no userId', async () => {
    const tracking = await boot();

    await tracking.track({ installationId: '123456789', eventName: 'appOpened', eventTime: EVENT_TIME });

    const req = onlyRequest();
    expectChabokRequest(req, '/api/installations/track');
    expect(req.raw).toBe('{"installationId":"123456789","eventName":"appOpened","eventTime":1575965328110}');
  });

  it('turns a numeric userId into a string', async () => {
    const tracking = await boot();

    await tracking.track({ userId: 42, eventName: 'login', eventTime: EVENT_TIME });

    expect(onlyRequest().raw).toBe('{"userId":"42","eventName":"login","eventTime":1575965328110}');
  });
});

describe('trackMany', () => {
  it('sends events of different users in ONE request, as the documented JSON array', async () => {
    const tracking = await boot();

    await tracking.trackMany([
      { installationId: '123456789', eventName: 'addToCart', eventTime: EVENT_TIME, eventData: { productId: 12345 } },
      { userId: '09120000000', eventName: 'purchase', eventTime: EVENT_TIME + 1, eventData: {} },
    ]);

    const req = onlyRequest();
    expectChabokRequest(req, '/api/installations/track');
    expect(req.raw).toBe(
      '[{"installationId":"123456789","eventName":"addToCart","eventTime":1575965328110,"eventData":{"productId":12345}},' +
        '{"userId":"09120000000","eventName":"purchase","eventTime":1575965328111,"eventData":{}}]',
    );
    expect(standIn.accepted.map((a) => a.bulk)).toEqual([true, true]);
  });
});

describe('eventTime', () => {
  it('given as a Date is sent as epoch milliseconds', async () => {
    const tracking = await boot();

    await tracking.track({ userId: 'u1', eventName: 'signedUp', eventTime: new Date('2020-02-06T12:12:25.408Z') });

    expect(onlyRequest().body).toEqual({
      userId: 'u1',
      eventName: 'signedUp',
      eventTime: Date.UTC(2020, 1, 6, 12, 12, 25, 408),
    });
  });

  it('given as epoch milliseconds is kept exactly', async () => {
    const tracking = await boot();

    await tracking.track({ userId: 'u1', eventName: 'signedUp', eventTime: 1_700_000_000_123 });

    expect(onlyRequest().raw).toBe('{"userId":"u1","eventName":"signedUp","eventTime":1700000000123}');
  });

  it('when absent is the moment track() was called, not the moment the batch was sent', async () => {
    const flushIntervalMs = 300;
    const tracking = await boot({ flushIntervalMs });

    const before = Date.now();
    const delivered = tracking.track({ userId: 'u1', eventName: 'viewedItem' });
    const after = Date.now();
    await delivered;

    const req = onlyRequest();
    const { eventTime } = req.body as { eventTime: number };
    expect(Number.isInteger(eventTime)).toBe(true);
    expect(eventTime).toBeGreaterThanOrEqual(before);
    expect(eventTime).toBeLessThanOrEqual(after);
    // The batch waited flushIntervalMs before it was sent; Chabok would have stored the
    // arrival time had eventTime been left out. (A lower bound: a slow machine only widens it.)
    expect(req.at - eventTime).toBeGreaterThanOrEqual(flushIntervalMs - 50);
  });
});

describe('eventData', () => {
  it('turns Dates nested anywhere into ISO-8601 UTC strings and keeps every other value', async () => {
    const tracking = await boot();
    const at = new Date('2020-02-06T12:12:25.408Z');
    const iso = '2020-02-06T12:12:25.408Z';

    await tracking.track({
      userId: 'u1',
      eventName: 'booked',
      eventTime: EVENT_TIME,
      eventData: {
        at,
        tags: ['a', 'b'],
        slots: [at, { from: at }],
        trip: { leg: { departs: at } },
        seats: 2,
        paid: true,
        note: null,
      },
    });

    expect(onlyRequest().body).toEqual({
      userId: 'u1',
      eventName: 'booked',
      eventTime: EVENT_TIME,
      eventData: {
        at: iso,
        tags: ['a', 'b'],
        slots: [iso, { from: iso }],
        trip: { leg: { departs: iso } },
        seats: 2,
        paid: true,
        note: null,
      },
    });
  });
});

describe('revenue events', () => {
  it('trackPurchase posts the named event with revenue and currency to /installations/trackPurchase', async () => {
    const tracking = await boot();

    await tracking.trackPurchase({
      userId: '42',
      eventName: 'checkout',
      eventTime: EVENT_TIME,
      revenue: 250000,
      currency: 'RIAL',
    });

    const req = onlyRequest();
    expectChabokRequest(req, '/api/installations/trackPurchase');
    expect(req.raw).toBe(
      '{"userId":"42","eventName":"checkout","eventTime":1575965328110,"revenue":250000,"currency":"RIAL"}',
    );
  });

  it('trackRevenue posts revenue and currency, without eventName, to /installations/trackRevenue', async () => {
    const tracking = await boot();

    await tracking.trackRevenue({ installationId: 'abc', eventTime: EVENT_TIME, revenue: 99000, currency: 'RIAL' });

    const req = onlyRequest();
    expectChabokRequest(req, '/api/installations/trackRevenue');
    expect(req.raw).toBe('{"installationId":"abc","eventTime":1575965328110,"revenue":99000,"currency":"RIAL"}');
    expect(req.body).not.toHaveProperty('eventName');
  });
});

describe('the promise of track()', () => {
  it('resolves only after Chabok accepted the event', async () => {
    const tracking = await boot();
    let resolved = false;
    let resolvedWhenRequestArrived: boolean | undefined;
    standIn.fault = () => {
      resolvedWhenRequestArrived = resolved;
      return { delayMs: 100 }; // answer (and accept) a little later
    };

    await tracking.track({ userId: 'u1', eventName: 'addToCart' }).then(() => {
      resolved = true;
    });

    expect(resolvedWhenRequestArrived).toBe(false);
    expect(standIn.events()).toHaveLength(1);
    expect(standIn.requests[0]!.status).toBe(200);
  });
});

describe('baseUrl', () => {
  it('with a trailing slash still yields {base}/installations/track', async () => {
    const tracking = await boot({ baseUrl: `${standIn.baseUrl}/` });

    await tracking.track({ userId: 'u1', eventName: 'a', eventTime: EVENT_TIME });

    expectChabokRequest(onlyRequest(), '/api/installations/track');
  });

  it('keeps its path prefix (a gateway mounted under /gateway/chabok)', async () => {
    const prefix = '/gateway/chabok/api';
    // The stand-in plays a gateway that forwards everything under the prefix to Chabok.
    standIn.fault = (req) =>
      req.path.startsWith(`${prefix}/`) ? { accept: true, status: 200, body: '{"ok":true}' } : undefined;
    const tracking = await boot({ baseUrl: standIn.baseUrl.replace(/\/api$/, prefix) });

    await tracking.track({ userId: 'u1', eventName: 'a', eventTime: EVENT_TIME });

    const req = onlyRequest();
    expect(req.path).toBe(`${prefix}/installations/track`);
    expect(req.headers['x-access-token']).toBe(TOKEN);
    expect(standIn.events()).toEqual([{ userId: 'u1', eventName: 'a', eventTime: EVENT_TIME }]);
  });
});

describe('Chabok hosts (resolved only; never contacted here)', () => {
  async function resolvedBaseUrl(options: ChabokModuleOptions): Promise<string> {
    moduleRef = await Test.createTestingModule({ imports: [ChabokModule.forRoot(options)] }).compile();
    return moduleRef.get<ResolvedChabokOptions>(CHABOK_OPTIONS).baseUrl;
  }

  it("environment: 'sandbox' sends to the sandbox host", async () => {
    await expect(resolvedBaseUrl({ environment: 'sandbox', accessToken: TOKEN })).resolves.toBe(
      'https://sandbox.push.adpdigital.com/api',
    );
  });

  it("appId sends to the app's production host", async () => {
    await expect(resolvedBaseUrl({ appId: 'myapp', accessToken: TOKEN })).resolves.toBe(
      'https://myapp.push.adpdigital.com/api',
    );
  });

  it("appId with environment: 'production' sends to the same production host", async () => {
    await expect(resolvedBaseUrl({ appId: 'myapp', environment: 'production', accessToken: TOKEN })).resolves.toBe(
      'https://myapp.push.adpdigital.com/api',
    );
  });

  it('baseUrl overrides both', async () => {
    await expect(
      resolvedBaseUrl({ appId: 'myapp', environment: 'sandbox', baseUrl: standIn.baseUrl, accessToken: TOKEN }),
    ).resolves.toBe(standIn.baseUrl);
  });
});
