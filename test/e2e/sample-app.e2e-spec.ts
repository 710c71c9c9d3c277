/**
 * The sample app (sample/, `npm start`) as a user runs it with no Chabok credentials: it
 * starts the local stand-in, and each curl command from sample/README.md produces the
 * event shown there. The sample imports the library as 'nestjs-chabok' (the built dist/),
 * so this test imports only the sample and the stand-in, never src/.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { LoggerService } from '@nestjs/common';
import request from 'supertest';
import { bootstrap, type RunningSample } from '../../sample/src/bootstrap.js';

// Generous: other suites share this machine. Nothing here waits on a timer; it waits on conditions.
jest.setTimeout(30_000);

const CHABOK_ENV = [
  'CHABOK_APP_ID',
  'CHABOK_ENVIRONMENT',
  'CHABOK_ACCESS_TOKEN',
  'CHABOK_BASE_URL',
  'CHABOK_FLUSH_INTERVAL_MS',
];

/** Keeps every line the app logs, as `[context] message`. */
class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, ...rest: unknown[]): void {
    this.record(message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record(message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record(message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record(message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.record(message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.record(message, rest);
  }
  private record(message: unknown, rest: unknown[]): void {
    const context = rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? rest[rest.length - 1] : '';
    const text =
      message instanceof Error
        ? `${message.message}\n${message.stack ?? ''}`
        : typeof message === 'string'
          ? message
          : JSON.stringify(message);
    this.lines.push(
      `[${String(context)}] ${text}${rest
        .slice(0, -1)
        .map((r) => ` ${String(r)}`)
        .join('')}`,
    );
  }
}

/** Clears every CHABOK_* variable, sets `extra`; `restore()` puts the environment back. */
function withChabokEnv(extra: Record<string, string>): { restore: () => void } {
  const saved = Object.fromEntries(CHABOK_ENV.map((key) => [key, process.env[key]]));
  for (const key of CHABOK_ENV) delete process.env[key];
  Object.assign(process.env, extra);
  return {
    restore: () => {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    },
  };
}

describe('sample app without Chabok credentials (stand-in mode)', () => {
  let env: { restore: () => void };
  let sample: RunningSample;
  const logger = new RecordingLogger();
  const standIn = () => sample.standIn!;
  const standInLines = () => logger.lines.filter((line) => line.startsWith('[ChabokStandIn] '));

  beforeAll(async () => {
    env = withChabokEnv({ CHABOK_FLUSH_INTERVAL_MS: '10' });
    sample = await bootstrap({ port: 0, logger });
  });

  afterAll(async () => {
    await sample?.close();
    env.restore();
  });

  it('starts the local stand-in on loopback, points the module at it, and says so with the curl commands to try', () => {
    expect(sample.mode).toBe('stand-in');
    expect(sample.standIn).toBeDefined();
    expect(sample.chabokBaseUrl).toBe(standIn().baseUrl);
    expect(sample.chabokBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
    expect(sample.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(logger.lines).toContain(
      `[Sample] No Chabok in the environment: events go to the local stand-in at ${standIn().baseUrl} and are printed below`,
    );
    expect(logger.lines).toContain(`[Sample]   curl ${sample.url}/products/12345 -H 'x-user-id: 42'`);
    expect(logger.lines).toContain(
      `[Sample]   curl -X POST ${sample.url}/orders -H 'x-user-id: 42' -H 'content-type: application/json' -d '{"revenue":250000}'`,
    );
  });

  it('GET /products/:id as user 42 sends viewProduct with the product id from the route', async () => {
    const res = await request(sample.url).get('/products/12345').set('x-user-id', '42').expect(200);
    expect(res.body).toEqual({ id: 12345, name: 'milk', price: 85000 });

    await standIn().waitFor(
      () =>
        standIn()
          .events('track')
          .some((e) => e.eventName === 'viewProduct' && e.userId === '42'),
      10_000,
    );
    const event = standIn()
      .events('track')
      .find((e) => e.eventName === 'viewProduct' && e.userId === '42')!;
    expect(event).toEqual({
      userId: '42',
      eventName: 'viewProduct',
      eventTime: expect.any(Number),
      eventData: { productId: 12345 },
    });
    expect(standInLines()).toContain('[ChabokStandIn] track          userId=42 viewProduct {"productId":12345}');
  });

  it('GET /products/:id with only an installation-id header sends the event by installationId', async () => {
    await request(sample.url).get('/products/777').set('x-chabok-installation-id', 'device-7').expect(200);

    await standIn().waitFor(
      () =>
        standIn()
          .events('track')
          .some((e) => e.installationId === 'device-7'),
      10_000,
    );
    const event = standIn()
      .events('track')
      .find((e) => e.installationId === 'device-7')!;
    expect(event).toEqual({
      installationId: 'device-7',
      eventName: 'viewProduct',
      eventTime: expect.any(Number),
      eventData: { productId: 777 },
    });
    expect(standInLines()).toContain(
      '[ChabokStandIn] track          installationId=device-7 viewProduct {"productId":777}',
    );
  });

  it('POST /cart/items sends addToCart with data taken from what the handler returned', async () => {
    const res = await request(sample.url)
      .post('/cart/items')
      .set('x-user-id', '42')
      .send({ productId: '12345', quantity: 2 }) // a string id, as forms send it: the handler's number is what is tracked
      .expect(201);
    expect(res.body).toEqual({ productId: 12345, quantity: 2, cartSize: 2 });

    await standIn().waitFor(
      () =>
        standIn()
          .events('track')
          .some((e) => e.eventName === 'addToCart'),
      10_000,
    );
    const event = standIn()
      .events('track')
      .find((e) => e.eventName === 'addToCart')!;
    expect(event).toEqual({
      userId: '42',
      eventName: 'addToCart',
      eventTime: expect.any(Number),
      eventData: { productId: 12345, quantity: 2 },
    });
    expect(standInLines()).toContain(
      '[ChabokStandIn] track          userId=42 addToCart {"productId":12345,"quantity":2}',
    );
  });

  it('POST /orders awaits trackPurchase: the checkout is at the stand-in by the time the order is answered', async () => {
    const res = await request(sample.url).post('/orders').set('x-user-id', '42').send({ revenue: 250000 }).expect(201);
    expect(res.body).toEqual({
      orderId: expect.stringMatching(/^order-\d+$/),
      revenue: 250000,
      currency: 'RIAL',
      tracked: true,
    });

    // No waiting: the handler awaited Chabok's acceptance before answering.
    const purchases = standIn().events('trackPurchase');
    expect(purchases).toEqual([
      {
        userId: '42',
        eventName: 'checkout',
        revenue: 250000,
        currency: 'RIAL',
        eventTime: expect.any(Number),
        eventData: { orderId: res.body.orderId },
      },
    ]);
    expect(standInLines()).toContain(
      `[ChabokStandIn] trackPurchase  userId=42 checkout revenue=250000 RIAL {"orderId":"${res.body.orderId}"}`,
    );
  });

  it('POST /orders without a user is refused and tracks nothing', async () => {
    const before = standIn().events('trackPurchase').length;
    await request(sample.url).post('/orders').send({ revenue: 1000 }).expect(401);
    expect(standIn().events('trackPurchase')).toHaveLength(before);
  });

  it('requests that fail (unknown product, bad cart body) send no event', async () => {
    await request(sample.url).get('/products/999').set('x-user-id', 'u-fail').expect(404);
    await request(sample.url).post('/cart/items').set('x-user-id', 'u-fail').send({ productId: 'milk' }).expect(400);
    // A later success from the same user: once it has arrived, anything the failures had queued would have too.
    await request(sample.url).get('/products/777').set('x-user-id', 'u-fail').expect(200);

    await standIn().waitFor(
      () =>
        standIn()
          .events('track')
          .some((e) => e.userId === 'u-fail'),
      10_000,
    );
    expect(
      standIn()
        .events('track')
        .filter((e) => e.userId === 'u-fail'),
    ).toEqual([
      { userId: 'u-fail', eventName: 'viewProduct', eventTime: expect.any(Number), eventData: { productId: 777 } },
    ]);
  });

  it('sends the stand-in token only in the X-Access-Token header, and never logs it', () => {
    const token = standIn().accessToken;
    expect(standIn().requests.length).toBeGreaterThan(0);
    for (const req of standIn().requests) {
      expect(req.headers['x-access-token']).toBe(token);
      expect(req.path).not.toContain(token);
      expect(req.raw).not.toContain(token);
    }
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(logger.lines.filter((line) => line.includes(token))).toEqual([]);
  });
});

describe('stopping the sample app', () => {
  it('delivers events still queued before it stops the stand-in, and leaves the environment as it found it', async () => {
    // A flush interval far longer than the test: only shutdown can send this event.
    const env = withChabokEnv({ CHABOK_FLUSH_INTERVAL_MS: '60000' });
    try {
      const sample = await bootstrap({ port: 0, logger: new RecordingLogger() });
      let closed = false;
      try {
        expect(process.env.CHABOK_BASE_URL).toBe(sample.standIn!.baseUrl);
        await request(sample.url).get('/products/12345').set('x-user-id', 'leaving').expect(200);
        expect(sample.standIn!.acceptedCount).toBe(0);

        await sample.close();
        closed = true;
        expect(sample.standIn!.events('track')).toEqual([
          {
            userId: 'leaving',
            eventName: 'viewProduct',
            eventTime: expect.any(Number),
            eventData: { productId: 12345 },
          },
        ]);
        expect(process.env.CHABOK_BASE_URL).toBeUndefined();
        expect(process.env.CHABOK_ACCESS_TOKEN).toBeUndefined();
      } finally {
        if (!closed) await sample.close();
      }
    } finally {
      env.restore();
    }
  });
});
