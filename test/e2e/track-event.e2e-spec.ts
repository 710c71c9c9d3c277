/**
 * @TrackEvent() end to end: a user's Nest app (Express and Fastify), real HTTP calls to it,
 * and what arrives at the local Chabok stand-in.
 */
import {
  ConflictException,
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Param,
  Post,
  UseGuards,
  UseInterceptors,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { jest } from '@jest/globals';
import request from 'supertest';
import { of } from 'rxjs';
import { TrackEvent, TrackEventInterceptor } from '../../src/index.js';
import type { FaultAction } from '../../stand-in/chabok-stand-in.js';
import { HTTP_ADAPTERS, nestLogs, startApp, type AppHarness, type HttpAdapterName } from '../support/app-harness.js';

jest.setTimeout(30_000);

const INSTALLATION_HEADER = 'x-chabok-installation-id';

interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
  user?: { id: string | number };
}

/** Stands in for an auth layer (passport and the like): `x-test-user: 42` logs in user 42 (a number id), `x-test-user: ali` user 'ali'. */
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<RequestLike>();
    const user = req.headers['x-test-user'];
    if (typeof user === 'string') req.user = { id: /^\d+$/.test(user) ? Number(user) : user };
    return true;
  }
}

/** A later event with its own fixed identity: once it arrived, everything tracked before it has been captured. */
@Controller('marker')
class MarkerController {
  @Get()
  @TrackEvent({ name: 'marker', identity: { installationId: 'marker-device' } })
  mark(): string {
    return 'marked';
  }
}

@UseGuards(FakeAuthGuard)
@Controller('shop')
class ShopController {
  @Get('products/:id')
  @TrackEvent()
  viewProduct(@Param('id') id: string) {
    return { id, name: 'milk' };
  }

  @Post('cart')
  @TrackEvent({
    name: 'addToCart',
    data: (context, [req], cart: { cartId: string }) => ({
      sku: (req as RequestLike).body.sku as string,
      quantity: (req as RequestLike).body.quantity as number,
      cartId: cart.cartId,
      handler: context.getHandler().name,
    }),
  })
  addToCart(@Body() body: { sku: string; quantity: number }) {
    return { cartId: 'cart-1', sku: body.sku, quantity: body.quantity };
  }

  @Get('reviews/:productId')
  @TrackEvent({
    name: 'reviewsRead',
    data: (_context, [req], reviews: unknown[]) => ({
      productId: (req as RequestLike).params.productId!,
      count: reviews.length,
    }),
  })
  reviews() {
    return [{ stars: 5 }, { stars: 4 }];
  }

  @Get('banner')
  @TrackEvent({ name: 'bannerShown', data: { placement: 'home', version: 2, beta: false } })
  banner() {
    return { banner: 'yalda-sale' };
  }

  @Get('kiosk')
  @TrackEvent({ identity: { installationId: 'kiosk-7' } })
  kioskOpened() {
    return { welcome: true };
  }

  @Post('signup')
  @TrackEvent({
    name: 'signedUp',
    identity: (_context, _args, customer: { customerId: number }) => ({ userId: customer.customerId }),
  })
  signUp() {
    return { customerId: 9001 };
  }

  @Get('health')
  @TrackEvent({ when: false })
  health() {
    return { ok: true };
  }

  /** Link previews (`?preview=true`) are not views. */
  @Get('orders/:id')
  @TrackEvent({ name: 'orderViewed', when: (_context, [req]) => (req as RequestLike).query.preview !== 'true' })
  order(@Param('id') id: string) {
    return { id, status: 'paid' };
  }

  @Get('about')
  about() {
    return { about: 'a small shop' };
  }

  @Get('sold-out')
  @TrackEvent()
  soldOut(): never {
    throw new ConflictException('out of stock');
  }

  @Get('broken')
  @TrackEvent()
  broken(): never {
    throw new Error('database is down');
  }

  @Get('quote-with-callback')
  @TrackEvent({ name: 'quoteShown', data: () => ({ onClick: (() => 'not JSON') as never }) })
  quoteWithCallback() {
    return { quote: 120_000 };
  }

  @Get('quote-with-nan')
  @TrackEvent({ name: 'priceQuoted', data: () => ({ price: Number('twelve') }) })
  quoteWithNaN() {
    return { quote: 120_000 };
  }

  @Get('quote-with-throwing-data')
  @TrackEvent({
    name: 'quoteFailed',
    data: () => {
      throw new Error('data factory blew up');
    },
  })
  quoteWithThrowingData() {
    return { quote: 120_000 };
  }

  @Get('profile')
  @TrackEvent({ data: (_context, _args, profile: { name: string }) => ({ name: profile.name }) })
  async loadProfile() {
    await new Promise((resolve) => setImmediate(resolve));
    return { name: 'Sara' };
  }

  @Get('prices')
  @TrackEvent({ data: (_context, _args, last: { price: number }) => ({ price: last.price }) })
  streamPrices() {
    return of({ price: 1_000 }, { price: 990 }); // the response is the last value; so is the event
  }
}

/** Sends the marker, waits until it arrived and everything tracked before it settled; returns every event name received, sorted. */
async function eventNamesUpToMarker(h: AppHarness): Promise<string[]> {
  await request(h.url).get('/marker').expect(200, 'marked');
  await h.standIn.waitFor(() => h.standIn.events().some((e) => e.eventName === 'marker'));
  await h.tracking.flush();
  return h.standIn
    .events()
    .map((e) => String(e.eventName))
    .sort();
}

/** Sends one request and returns the single event it produced. */
async function eventOf(h: AppHarness, call: request.Test): Promise<Record<string, unknown>> {
  const before = h.standIn.events().length;
  await call;
  await h.standIn.waitFor(() => h.standIn.events().length > before);
  await h.tracking.flush();
  const events = h.standIn.events().slice(before);
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe.each(HTTP_ADAPTERS)('@TrackEvent() on %s', (adapter: HttpAdapterName) => {
  describe('in an app with the default options', () => {
    let h: AppHarness;
    beforeAll(async () => {
      h = await startApp(adapter, { controllers: [ShopController, MarkerController] });
    });
    afterEach(async () => {
      await h.tracking.flush();
      h.standIn.reset();
      nestLogs.clear();
    });
    afterAll(() => h?.close());

    describe('a successful call', () => {
      it('GET: tracks an event named after the method, for the logged-in user, at the time of the call; the response is untouched', async () => {
        const before = Date.now();
        const res = await request(h.url).get('/shop/products/7').set('x-test-user', '42');
        const after = Date.now();

        expect(res.status).toBe(200);
        expect(res.body).toEqual({ id: '7', name: 'milk' });
        await h.standIn.waitForEvents(1);
        const [event] = h.standIn.events();
        expect(event).toEqual({ userId: '42', eventName: 'viewProduct', eventTime: expect.any(Number) });
        expect(event!.eventTime).toBeGreaterThanOrEqual(before);
        expect(event!.eventTime).toBeLessThanOrEqual(after);
      });

      it('POST: tracks the given name, with data built from the request body and the handler result', async () => {
        const before = Date.now();
        const res = await request(h.url)
          .post('/shop/cart')
          .set(INSTALLATION_HEADER, 'device-1')
          .send({ sku: 'milk-1l', quantity: 2 });
        const after = Date.now();

        expect(res.status).toBe(201);
        expect(res.body).toEqual({ cartId: 'cart-1', sku: 'milk-1l', quantity: 2 });
        await h.standIn.waitForEvents(1);
        const [event] = h.standIn.events();
        expect(event).toEqual({
          installationId: 'device-1',
          eventName: 'addToCart',
          eventTime: expect.any(Number),
          eventData: { sku: 'milk-1l', quantity: 2, cartId: 'cart-1', handler: 'addToCart' },
        });
        expect(event!.eventTime).toBeGreaterThanOrEqual(before);
        expect(event!.eventTime).toBeLessThanOrEqual(after);
      });

      it('arrives with the token in X-Access-Token, nowhere in the URL', async () => {
        await eventOf(h, request(h.url).get('/shop/products/7').set('x-test-user', '42').expect(200));
        const [sent] = h.standIn.requests;
        expect(sent!.headers['x-access-token']).toBe(h.standIn.accessToken);
        expect(sent!.path).toBe('/api/installations/track');
      });
    });

    describe('a failing handler', () => {
      it('HttpException: the client gets the normal error response and no event is tracked', async () => {
        const res = await request(h.url).get('/shop/sold-out').set('x-test-user', '42');

        expect(res.status).toBe(409);
        expect(res.body).toEqual({ statusCode: 409, message: 'out of stock', error: 'Conflict' });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      });

      it('plain Error: the client gets a 500 and no event is tracked', async () => {
        const res = await request(h.url).get('/shop/broken').set('x-test-user', '42');

        expect(res.status).toBe(500);
        expect(res.body).toEqual({ statusCode: 500, message: 'Internal server error' });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      });
    });

    describe('identity', () => {
      it('without a user or an installation header, nothing is sent and the response is fine', async () => {
        await request(h.url).get('/shop/products/7').expect(200, { id: '7', name: 'milk' });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      });

      it('request.user.id becomes userId, as a string even when it is a number', async () => {
        expect(await eventOf(h, request(h.url).get('/shop/products/7').set('x-test-user', '42'))).toMatchObject({
          userId: '42',
        });
        expect(await eventOf(h, request(h.url).get('/shop/products/7').set('x-test-user', 'ali'))).toMatchObject({
          userId: 'ali',
        });
      });

      it('the x-chabok-installation-id header becomes installationId; a logged-in user takes precedence', async () => {
        const byDevice = await eventOf(h, request(h.url).get('/shop/products/7').set(INSTALLATION_HEADER, 'device-9'));
        expect(byDevice).toMatchObject({ installationId: 'device-9' });
        expect(byDevice).not.toHaveProperty('userId');

        const byUser = await eventOf(
          h,
          request(h.url).get('/shop/products/7').set(INSTALLATION_HEADER, 'device-9').set('x-test-user', '42'),
        );
        expect(byUser).toMatchObject({ userId: '42' });
        expect(byUser).not.toHaveProperty('installationId');
      });
    });

    describe('options given as a value or a function', () => {
      it('name: the given name replaces the method name', async () => {
        expect(await eventOf(h, request(h.url).get('/shop/banner').set('x-test-user', '1'))).toMatchObject({
          eventName: 'bannerShown',
        });
      });

      it('identity as a value: used whoever calls', async () => {
        const event = await eventOf(
          h,
          request(h.url).get('/shop/kiosk').set('x-test-user', '42').expect(200, { welcome: true }),
        );
        expect(event).toEqual({ installationId: 'kiosk-7', eventName: 'kioskOpened', eventTime: expect.any(Number) });
      });

      it('identity as a function: sees the handler result (the new customer id, a number, sent as a string)', async () => {
        const event = await eventOf(
          h,
          request(h.url).post('/shop/signup').send({ phone: '09331952921' }).expect(201, { customerId: 9001 }),
        );
        expect(event).toEqual({ userId: '9001', eventName: 'signedUp', eventTime: expect.any(Number) });
      });

      it('data as a value: sent as given', async () => {
        const event = await eventOf(
          h,
          request(h.url).get('/shop/banner').set('x-test-user', '1').expect(200, { banner: 'yalda-sale' }),
        );
        expect(event.eventData).toEqual({ placement: 'home', version: 2, beta: false });
      });

      it('data as a function: args[0] is the request (route params here), result is what the handler returned', async () => {
        const event = await eventOf(
          h,
          request(h.url)
            .get('/shop/reviews/77')
            .set('x-test-user', '1')
            .expect(200, [{ stars: 5 }, { stars: 4 }]),
        );
        expect(event).toMatchObject({ eventName: 'reviewsRead', eventData: { productId: '77', count: 2 } });
      });

      it('when: false never tracks', async () => {
        await request(h.url).get('/shop/health').set('x-test-user', '1').expect(200, { ok: true });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      });

      it('when as a function: tracks the calls it accepts, skips the others', async () => {
        await request(h.url)
          .get('/shop/orders/o-1?preview=true')
          .set('x-test-user', '1')
          .expect(200, { id: 'o-1', status: 'paid' });
        await request(h.url).get('/shop/orders/o-2').set('x-test-user', '1').expect(200, { id: 'o-2', status: 'paid' });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker', 'orderViewed']);
        expect(h.standIn.events().find((e) => e.eventName === 'orderViewed')).toMatchObject({ userId: '1' });
      });
    });

    it('a route without @TrackEvent() sends nothing', async () => {
      await request(h.url).get('/shop/about').set('x-test-user', '42').expect(200, { about: 'a small shop' });
      expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
    });

    describe('an event the decorator cannot build', () => {
      it.each([
        ['a function value', '/shop/quote-with-callback', 'quoteShown', 'eventData.onClick'],
        ['NaN', '/shop/quote-with-nan', 'priceQuoted', 'eventData.price'],
      ])(
        'data containing %s: not sent, the response is unaffected, a Chabok warning names the field',
        async (_what, path, eventName, field) => {
          await request(h.url).get(path).set('x-test-user', '42').expect(200, { quote: 120_000 });
          expect(await eventNamesUpToMarker(h)).toEqual(['marker']);

          const warnings = nestLogs.withContext('Chabok').filter((line) => line.level === 'warn');
          expect(warnings).toHaveLength(1);
          expect(warnings[0]!.message).toContain(`"${eventName}" not tracked`);
          expect(warnings[0]!.message).toContain(field);
          expect(nestLogs.text()).not.toContain(h.standIn.accessToken);
        },
      );

      it('a data factory that throws: not sent, the response is unaffected', async () => {
        await request(h.url)
          .get('/shop/quote-with-throwing-data')
          .set('x-test-user', '42')
          .expect(200, { quote: 120_000 });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
        expect(
          nestLogs
            .withContext('Chabok')
            .filter((line) => line.level === 'warn')
            .map((line) => line.message),
        ).toEqual(['Event "quoteFailed" not tracked: data factory blew up']);
      });
    });

    describe('async handlers track once, after they resolve', () => {
      it('a handler returning a Promise', async () => {
        await request(h.url).get('/shop/profile').set('x-test-user', '42').expect(200, { name: 'Sara' });
        expect(await eventNamesUpToMarker(h)).toEqual(['loadProfile', 'marker']);
        expect(h.standIn.events().find((e) => e.eventName === 'loadProfile')).toMatchObject({
          userId: '42',
          eventData: { name: 'Sara' },
        });
      });

      it('a handler returning an Observable (of two values: tracked once, with the last)', async () => {
        await request(h.url).get('/shop/prices').set('x-test-user', '42').expect(200, { price: 990 });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker', 'streamPrices']);
        expect(h.standIn.events().find((e) => e.eventName === 'streamPrices')).toMatchObject({
          userId: '42',
          eventData: { price: 990 },
        });
      });
    });
  });

  describe('when Chabok fails or is slow, the request neither waits nor changes', () => {
    @Controller('orders')
    class OrderController {
      @Post()
      @HttpCode(202)
      @Header('x-order-ref', 'ord-1')
      @Header('cache-control', 'no-store')
      @TrackEvent({
        name: 'orderPlaced',
        data: (_context, [req]) => ({ sku: (req as RequestLike).body.sku as string }),
      })
      place(@Body() body: { sku: string }) {
        return { orderId: 'ord-1', sku: body.sku };
      }
    }

    let h: AppHarness;
    beforeEach(async () => {
      h = await startApp(adapter, { controllers: [OrderController] });
      nestLogs.clear();
    });
    afterEach(() => h?.close());

    /** Places an order and checks the response is exactly the handler's; returns what Chabok had done when it arrived. */
    const placeOrder = async (sku: string) => {
      const res = await request(h.url).post('/orders').set(INSTALLATION_HEADER, 'device-1').send({ sku });
      const atResponse = {
        eventsRecorded: h.standIn.events().length,
        requestsAnswered: h.standIn.requests.filter((r) => r.status !== 0).length,
      };
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ orderId: 'ord-1', sku });
      expect(res.headers['x-order-ref']).toBe('ord-1');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(atResponse.eventsRecorded).toBe(0);
      return atResponse;
    };

    /** Lets the test know when the stand-in has received its first request (the fault handler runs on arrival). */
    const onFirstArrival = (action: FaultAction): Promise<void> =>
      new Promise((resolve) => {
        h.standIn.fault = () => {
          resolve();
          return action;
        };
      });

    const skusReceived = () =>
      h.standIn
        .events()
        .map((e) => (e.eventData as { sku: string }).sku)
        .sort();

    // While Chabok fails, no event can be accepted, so a response that waited for delivery would never come.
    it.each<[string, FaultAction]>([
      ['answering 500', { status: 500, body: '{"error":"internal"}' }],
      ['resetting connections', { reset: true }],
    ])('Chabok %s: responses are unchanged, and the events arrive once Chabok recovers', async (_what, action) => {
      const reached = onFirstArrival(action);
      await placeOrder('sku-a');
      await reached; // the first order's event is at Chabok now, and failing
      await placeOrder('sku-b');

      h.standIn.fault = undefined;
      await h.standIn.waitForEvents(2, 15_000);
      await h.tracking.flush();
      expect(skusReceived()).toEqual(['sku-a', 'sku-b']);

      const warnings = nestLogs.withContext('Chabok').filter((line) => line.level === 'warn');
      expect(warnings.some((line) => line.message.includes('Chabok delivery failed'))).toBe(true);
      expect(nestLogs.text()).not.toContain(h.standIn.accessToken);
      expect(JSON.stringify(h.tracking.stats())).not.toContain(h.standIn.accessToken);
    });

    it('Chabok answering after 2 s: a response arrives while Chabok is still holding an earlier event', async () => {
      const reached = onFirstArrival({ delayMs: 2_000 });
      expect(await placeOrder('sku-a')).toEqual({ eventsRecorded: 0, requestsAnswered: 0 });
      await reached; // the first order's event is at Chabok now, unanswered for 2 s
      const atSecondResponse = await placeOrder('sku-b');
      expect(h.standIn.requests.length).toBeGreaterThanOrEqual(1);
      expect(atSecondResponse.requestsAnswered).toBe(0);

      await h.standIn.waitForEvents(2, 15_000);
      await h.tracking.flush();
      expect(skusReceived()).toEqual(['sku-a', 'sku-b']);
      expect(nestLogs.withContext('Chabok').filter((line) => line.level === 'warn')).toEqual([]);
      expect(nestLogs.text()).not.toContain(h.standIn.accessToken);
    });
  });

  describe('module options', () => {
    @UseGuards(FakeAuthGuard)
    @Controller('profile')
    class ProfileController {
      @Get()
      @TrackEvent()
      viewProfile() {
        return { name: 'Sara' };
      }

      @Get('kiosk')
      @TrackEvent({ identity: { installationId: 'kiosk-7' } })
      kioskOpened() {
        return { welcome: true };
      }
    }

    describe('a module-wide identity resolver', () => {
      let h: AppHarness;
      beforeAll(async () => {
        h = await startApp(adapter, {
          controllers: [ProfileController, MarkerController],
          chabok: {
            identity: (context) => {
              const session = context.switchToHttp().getRequest<RequestLike>().headers['x-session'];
              return typeof session === 'string' ? { userId: `session-${session}` } : undefined;
            },
          },
        });
      });
      afterEach(async () => {
        await h.tracking.flush();
        h.standIn.reset();
      });
      afterAll(() => h?.close());

      it('replaces request.user.id and the installation header', async () => {
        const call = request(h.url)
          .get('/profile')
          .set('x-session', 's1')
          .set('x-test-user', '42')
          .set(INSTALLATION_HEADER, 'device-1');
        expect(await eventOf(h, call.expect(200))).toEqual({
          userId: 'session-s1',
          eventName: 'viewProfile',
          eventTime: expect.any(Number),
        });
      });

      it('when it finds no one, nothing is sent (no fallback to the default sources)', async () => {
        await request(h.url)
          .get('/profile')
          .set('x-test-user', '42')
          .set(INSTALLATION_HEADER, 'device-1')
          .expect(200, { name: 'Sara' });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      });

      it("the decorator's own identity still wins over it", async () => {
        expect(await eventOf(h, request(h.url).get('/profile/kiosk').set('x-session', 's1'))).toMatchObject({
          installationId: 'kiosk-7',
        });
      });
    });

    describe('a custom installationIdHeader', () => {
      let h: AppHarness;
      beforeAll(async () => {
        h = await startApp(adapter, {
          controllers: [ProfileController, MarkerController],
          chabok: { installationIdHeader: 'X-Device-Id' },
        });
      });
      afterEach(async () => {
        await h.tracking.flush();
        h.standIn.reset();
      });
      afterAll(() => h?.close());

      it('is read for installationId', async () => {
        expect(
          await eventOf(h, request(h.url).get('/profile').set('x-device-id', 'device-5').expect(200)),
        ).toMatchObject({ installationId: 'device-5' });
      });

      it('replaces x-chabok-installation-id', async () => {
        await request(h.url).get('/profile').set(INSTALLATION_HEADER, 'device-1').expect(200, { name: 'Sara' });
        expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      });
    });

    describe('mountInterceptor: false', () => {
      @Controller('auto')
      class AutoController {
        @Get()
        @TrackEvent({ identity: { installationId: 'device-1' } })
        autoTracked() {
          return { auto: true };
        }
      }

      @UseInterceptors(TrackEventInterceptor)
      @Controller('explicit')
      class ExplicitController {
        @Get()
        @TrackEvent({ identity: { installationId: 'device-1' } })
        explicitlyTracked() {
          return { explicit: true };
        }
      }

      let h: AppHarness;
      beforeAll(async () => {
        h = await startApp(adapter, {
          controllers: [AutoController, ExplicitController],
          chabok: { mountInterceptor: false },
        });
      });
      afterAll(() => h?.close());

      it('turns off automatic tracking; @UseInterceptors(TrackEventInterceptor) on a controller tracks again, once', async () => {
        await request(h.url).get('/auto').expect(200, { auto: true });
        await request(h.url).get('/explicit').expect(200, { explicit: true });
        await h.standIn.waitFor(() => h.standIn.events().length > 0);
        await h.tracking.flush();
        expect(h.standIn.events().map((e) => e.eventName)).toEqual(['explicitlyTracked']);
      });
    });
  });
});
