/**
 * nestjs-chabok/testing, used the way an app's own test suite uses it: the app's controller
 * and service, the built package (`nestjs-chabok`, `nestjs-chabok/testing`), Nest's testing
 * module and supertest. Events land in an in-memory recorder, after the same validation
 * as in production, and nothing goes over the network.
 *
 * Only the package's public entry points are imported here (they resolve to dist/, built
 * by `npm run build`): mixing in ../src would load a second copy of every class.
 */
import { Agent } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  Post,
  Req,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ChabokModule, ChabokValidationError, EventTrackingService, TrackEvent } from 'nestjs-chabok';
import { ChabokRecorder, ChabokTestingModule, getChabokRecorder, overrideChabok } from 'nestjs-chabok/testing';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';

jest.setTimeout(30_000);

// --- the user's app -------------------------------------------------------------------

interface ShopRequest {
  headers: Record<string, string | undefined>;
  user?: { id: string };
}

/** The app's auth layer, reduced to a header: `authorization: user 42` logs in user 42. */
@Injectable()
class SessionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<ShopRequest>();
    const id = /^user (\w+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (id) req.user = { id };
    return true;
  }
}

@Injectable()
class CheckoutService {
  constructor(private readonly tracking: EventTrackingService) {}

  async checkout(userId: string, items: { sku: string; quantity: number }[]) {
    const order = { orderId: 'order-1001', total: 250_000 };
    await this.tracking.track({
      userId,
      eventName: 'checkoutCompleted',
      eventData: { orderId: order.orderId, total: order.total, items: items.length },
    });
    return order;
  }
}

@UseGuards(SessionGuard)
@Controller('shop')
class ShopController {
  constructor(private readonly checkoutService: CheckoutService) {}

  /** Name only: who it was comes from the installation-id header (or request.user). */
  @Get('home')
  @TrackEvent('homeViewed')
  home() {
    return { banners: ['yalda-sale'] };
  }

  /** eventData from what the handler returned. */
  @Get('products/:id')
  @TrackEvent({
    name: 'productViewed',
    data: (_context, _args, product: { id: number; price: number }) => ({
      productId: product.id,
      price: product.price,
    }),
  })
  product(@Param('id') id: string) {
    return { id: Number(id), name: 'milk', price: 42_000 };
  }

  /** The user the guard put on request.user is the event's userId. */
  @Post('cart')
  @TrackEvent({ name: 'addToCart', data: (_context, [req]) => ({ sku: (req as { body: { sku: string } }).body.sku }) })
  addToCart(@Body() body: { sku: string }) {
    return { cartId: 'cart-7', sku: body.sku };
  }

  /** A bug in the app: NaN is not a number Chabok can store, so the event is refused. */
  @Get('quote')
  @TrackEvent({ name: 'quoteShown', data: () => ({ price: Number('twelve') }) })
  quote() {
    return { quote: 'call us' };
  }

  /** A service tracks the purchase itself, through EventTrackingService. */
  @Post('checkout')
  checkout(@Req() req: ShopRequest, @Body() body: { items: { sku: string; quantity: number }[] }) {
    return this.checkoutService.checkout(req.user!.id, body.items);
  }
}

/** The app's configuration; in a real app it comes from ConfigService or process.env. */
const config = { chabokBaseUrl: '', chabokAccessToken: 'shop-access-token-3f9a' };

/** The whole app, as main.ts boots it. */
@Module({
  imports: [
    ChabokModule.forRootAsync({
      useFactory: () => ({ baseUrl: config.chabokBaseUrl, accessToken: config.chabokAccessToken, flushIntervalMs: 5 }),
    }),
  ],
  controllers: [ShopController],
  providers: [CheckoutService],
})
class AppModule {}

// --- helpers of the app's test suite --------------------------------------------------

/** What Nest logged, to read the library's warnings (context `Chabok`). */
class KeptLogs implements LoggerService {
  readonly lines: { level: string; message: string; context: unknown }[] = [];
  log(message: unknown, ...rest: unknown[]) {
    this.keep('log', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.keep('warn', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.keep('error', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.keep('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.keep('verbose', message, rest);
  }
  private keep(level: string, message: unknown, rest: unknown[]) {
    this.lines.push({ level, message: String(message), context: rest.at(-1) });
  }
}

/** Starts the app on a loopback port and returns its URL. */
async function listen(app: INestApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}

/** `host:port` (or the socket path) a `net.Socket#connect` call was made to, whatever form its arguments took. */
function connectTarget(args: unknown[]): string {
  const first: unknown = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (first !== null && typeof first === 'object') {
    const o = first as { host?: string; port?: number | string; path?: string };
    return o.path ?? `${o.host ?? 'localhost'}:${String(o.port)}`;
  }
  return `${typeof args[1] === 'string' ? args[1] : 'localhost'}:${String(first)}`;
}

// --- the tests --------------------------------------------------------------------------

describe('ChabokTestingModule: the shop controller under test', () => {
  const logs = new KeptLogs();
  let app: INestApplication;
  let url: string;
  let recorder: ChabokRecorder;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ChabokTestingModule.forRoot()],
      controllers: [ShopController],
      providers: [CheckoutService],
    })
      .setLogger(logs)
      .compile();
    app = moduleRef.createNestApplication();
    url = await listen(app);
    recorder = moduleRef.get(ChabokRecorder);
  });

  beforeEach(() => {
    recorder.reset();
    logs.lines.length = 0;
  });

  afterAll(async () => {
    await app.close();
  });

  it('records a name-only @TrackEvent() event, with the caller from the installation-id header', async () => {
    await request(url).get('/shop/home').set('x-chabok-installation-id', 'device-1').expect(200);

    const event = await recorder.expectTracked('homeViewed', { installationId: 'device-1' });
    expect(event).toEqual({ installationId: 'device-1', eventName: 'homeViewed', eventTime: expect.any(Number) });
  });

  it('records eventData built from what the handler returned', async () => {
    await request(url).get('/shop/products/12345').set('x-chabok-installation-id', 'device-1').expect(200);

    await recorder.expectTracked('productViewed', {
      installationId: 'device-1',
      eventData: { productId: 12345, price: 42_000 },
    });
  });

  it("takes the userId from request.user, set by the app's guard", async () => {
    await request(url)
      .post('/shop/cart')
      .set('authorization', 'user 42')
      .set('x-chabok-installation-id', 'device-1')
      .send({ sku: 'milk-1l' })
      .expect(201);

    const event = await recorder.expectTracked('addToCart', { userId: '42', eventData: { sku: 'milk-1l' } });
    expect(event).not.toHaveProperty('installationId');
  });

  it('records what a service tracks with EventTrackingService.track(), whose promise resolves', async () => {
    const res = await request(url)
      .post('/shop/checkout')
      .set('authorization', 'user 42')
      .send({ items: [{ sku: 'milk-1l', quantity: 2 }] })
      .expect(201);

    expect(res.body).toEqual({ orderId: 'order-1001', total: 250_000 }); // the service awaited track()
    expect(recorder.find('checkoutCompleted')).toEqual([
      {
        userId: '42',
        eventName: 'checkoutCompleted',
        eventTime: expect.any(Number),
        eventData: { orderId: 'order-1001', total: 250_000, items: 1 },
      },
    ]);
  });

  it('expectTracked fails with a message listing the recorded events when the name does not match', async () => {
    await request(url).get('/shop/home').set('x-chabok-installation-id', 'device-1').expect(200);
    await recorder.expectTracked('homeViewed');

    await expect(recorder.expectTracked('homeVisited', undefined, 50)).rejects.toThrow(
      /^Expected a Chabok event "homeVisited", but these 1 were recorded:\n {2}- installations\/track: \{"installationId":"device-1","eventName":"homeViewed","eventTime":\d+\}$/,
    );
  });

  it('expectTracked fails, naming the expected fields and listing the recorded events, when the fields do not match', async () => {
    await request(url).post('/shop/cart').set('authorization', 'user 42').send({ sku: 'milk-1l' }).expect(201);
    await recorder.expectTracked('addToCart', { userId: '42' });
    await recorder.expectTracked('addToCart', (event) => event.eventData?.sku === 'milk-1l');

    const wrongUser = recorder.expectTracked('addToCart', { userId: '43' }, 50);
    await expect(wrongUser).rejects.toThrow(
      'Expected a Chabok event "addToCart" matching {"userId":"43"}, but these 1 were recorded:\n  - installations/track: {"userId":"42","eventName":"addToCart"',
    );
    await expect(recorder.expectTracked('addToCart', { eventData: { sku: 'bread' } }, 50)).rejects.toThrow(
      /matching \{"eventData":\{"sku":"bread"\}\}, but these 1 were recorded:\n.*"eventData":\{"sku":"milk-1l"\}/,
    );
  });

  it('expectNotTracked passes for an event that was not tracked and fails, listing the events, for one that was', async () => {
    await request(url).get('/shop/home').set('x-chabok-installation-id', 'device-1').expect(200);

    await recorder.expectNotTracked('homeViewed', { userId: '42' }); // an anonymous visit, not user 42's
    await expect(recorder.expectNotTracked('homeViewed')).rejects.toThrow(
      /^Expected no Chabok event "homeViewed", but these 1 were recorded:\n {2}- installations\/track: \{"installationId":"device-1","eventName":"homeViewed"/,
    );
  });

  it('find() filters by name and fields or a predicate; events() lists everything, optionally by endpoint', async () => {
    await request(url).get('/shop/home').set('x-chabok-installation-id', 'device-1').expect(200);
    await recorder.expectTracked('homeViewed');
    await request(url).get('/shop/products/7').set('authorization', 'user 42').expect(200);
    await recorder.expectTracked('productViewed', { userId: '42' });
    await request(url).get('/shop/products/8').set('authorization', 'user 43').expect(200);
    await recorder.expectTracked('productViewed', { userId: '43' });

    expect(recorder.events().map((e) => e.eventName)).toEqual(['homeViewed', 'productViewed', 'productViewed']);
    expect(recorder.events('installations/track')).toHaveLength(3);
    expect(recorder.events('installations/trackPurchase')).toEqual([]);
    expect(recorder.find('productViewed')).toHaveLength(2);
    expect(recorder.find('productViewed', { userId: '43' })).toEqual([
      expect.objectContaining({ eventData: { productId: 8, price: 42_000 } }),
    ]);
    expect(recorder.find('productViewed', (e) => e.eventData?.productId === 7)).toEqual([
      expect.objectContaining({ userId: '42' }),
    ]);
    expect(recorder.find('checkoutCompleted')).toEqual([]);
  });

  it('reset() forgets everything recorded', async () => {
    await request(url).get('/shop/home').set('x-chabok-installation-id', 'device-1').expect(200);
    await recorder.expectTracked('homeViewed');

    recorder.reset();

    expect(recorder.events()).toEqual([]);
    await expect(recorder.expectTracked('homeViewed', undefined, 50)).rejects.toThrow(
      'Expected a Chabok event "homeViewed", but no events were recorded.',
    );
  });

  it('refuses an invalid event exactly like production: track() rejects with ChabokValidationError and nothing is recorded', async () => {
    const tracking = app.get(EventTrackingService);

    const refused = tracking.track({ userId: '42', eventName: '', eventData: { price: Number.NaN } });

    await expect(refused).rejects.toBeInstanceOf(ChabokValidationError);
    await expect(refused).rejects.toMatchObject({
      violations: expect.arrayContaining([
        expect.objectContaining({ path: 'eventName' }),
        expect.objectContaining({ path: 'eventData.price' }),
      ]),
    });
    expect(recorder.events()).toEqual([]);
  });

  it('does not record an invalid @TrackEvent() event; the response is unaffected and a warning says why', async () => {
    await request(url).get('/shop/quote').set('x-chabok-installation-id', 'device-1').expect(200, { quote: 'call us' });

    await recorder.expectNotTracked('quoteShown');
    expect(logs.lines).toEqual([
      {
        level: 'warn',
        context: 'Chabok',
        message: expect.stringMatching(/^Event "quoteShown" not tracked: .*eventData\.price/s),
      },
    ]);
  });

  it("opens no network connection: the only sockets are the test's own requests to the app", async () => {
    const appAddress = url.replace('http://', '');
    const connect = jest.spyOn(net.Socket.prototype, 'connect');
    let targets: string[];
    try {
      // A fresh agent per request, so each one opens its own socket (the default agent keeps them alive).
      await request(url)
        .post('/shop/checkout')
        .agent(new Agent())
        .set('authorization', 'user 42')
        .send({ items: [] })
        .expect(201);
      await request(url).get('/shop/home').agent(new Agent()).set('x-chabok-installation-id', 'device-1').expect(200);
      await recorder.expectTracked('homeViewed');
      await app.get(EventTrackingService).flush(); // with a real pipeline, this sends at once
      targets = (connect.mock.calls as unknown[][]).map(connectTarget);
    } finally {
      connect.mockRestore();
    }

    expect(targets).toContain(appAddress); // the spy does see connections
    expect(targets.filter((target) => target !== appAddress)).toEqual([]);
    expect(recorder.events().map((e) => e.eventName)).toEqual(['checkoutCompleted', 'homeViewed']);
  });

  it('is the same recorder through moduleRef.get(ChabokRecorder) and getChabokRecorder(app)', () => {
    expect(getChabokRecorder(app)).toBe(recorder);
    expect(app.get(ChabokRecorder)).toBe(recorder);
  });
});

describe('overrideChabok: the whole AppModule, with its own ChabokModule configuration', () => {
  let standIn: ChabokStandIn;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    // Chabok itself, so that a request that should not be made would be seen.
    standIn = await ChabokStandIn.start({ accessToken: config.chabokAccessToken });
    config.chabokBaseUrl = standIn.baseUrl;
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    standIn.reset();
  });

  afterAll(async () => {
    await standIn.close();
  });

  it("records the app's events in a recorder and sends nothing to Chabok", async () => {
    const moduleRef = await overrideChabok(Test.createTestingModule({ imports: [AppModule] })).compile();
    app = moduleRef.createNestApplication();
    const url = await listen(app);
    const recorder = getChabokRecorder(app);

    await request(url)
      .post('/shop/checkout')
      .set('authorization', 'user 42')
      .send({ items: [{ sku: 'milk-1l', quantity: 2 }] })
      .expect(201);
    await request(url).get('/shop/home').set('x-chabok-installation-id', 'device-1').expect(200);

    await recorder.expectTracked('checkoutCompleted', {
      userId: '42',
      eventData: { orderId: 'order-1001', total: 250_000 },
    });
    await recorder.expectTracked('homeViewed', { installationId: 'device-1' });
    await app.get(EventTrackingService).flush();
    expect(standIn.requests).toEqual([]);
  });

  it('without overrideChabok, the same AppModule delivers to Chabok, and getChabokRecorder says so', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    const url = await listen(app);

    expect(() => getChabokRecorder(app!)).toThrow(
      'This app delivers to Chabok for real: build it with overrideChabok(...) or ChabokTestingModule.forRoot()',
    );
    await request(url).post('/shop/checkout').set('authorization', 'user 42').send({ items: [] }).expect(201);
    expect(standIn.events()).toEqual([expect.objectContaining({ userId: '42', eventName: 'checkoutCompleted' })]);
  });

  it('a bad event gets the same ChabokValidationError from the real module and from the testing module', async () => {
    const real = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const testing = await Test.createTestingModule({ imports: [ChabokTestingModule.forRoot()] }).compile();
    try {
      const bad = { userId: '42', eventName: 'x'.repeat(300), eventData: { price: Number.NaN, tags: [{}] } } as never;
      const fromReal: unknown = await real
        .get(EventTrackingService)
        .track(bad)
        .catch((error: unknown) => error);
      const fromTesting: unknown = await testing
        .get(EventTrackingService)
        .track(bad)
        .catch((error: unknown) => error);

      expect(fromReal).toBeInstanceOf(ChabokValidationError);
      expect(fromTesting).toBeInstanceOf(ChabokValidationError);
      expect((fromTesting as ChabokValidationError).violations.length).toBeGreaterThanOrEqual(2);
      expect((fromTesting as ChabokValidationError).violations).toEqual((fromReal as ChabokValidationError).violations);
      expect(standIn.requests).toEqual([]);
    } finally {
      await real.close();
      await testing.close();
    }
  });
});
