/**
 * @TrackEvent() in a Nest microservice: a user's TCP service (request-response and event
 * handlers), real messages sent to it with a ClientProxy over 127.0.0.1, and what arrives
 * at the local Chabok stand-in. In RPC, args[0] (and ctx.switchToRpc().getData()) is the
 * message; there is no HTTP request, so identity comes from the decorator or a module-wide
 * resolver.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Server } from 'node:net';
import { Controller, type INestMicroservice } from '@nestjs/common';
import {
  ClientProxyFactory,
  EventPattern,
  MessagePattern,
  Payload,
  RpcException,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import { jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import { ChabokModule, EventTrackingService, TrackEvent, type ChabokModuleOptions } from '../../src/index.js';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { HARNESS_CHABOK_DEFAULTS, nestLogs } from '../support/app-harness.js';

jest.setTimeout(30_000);

interface AddToCart {
  userId: string;
  sku: string;
  quantity: number;
}
interface Cart {
  cartId: string;
  items: number;
}
interface OrderShipped {
  userId: string;
  orderId: string;
  carrier: string;
}

/** Who sent the message, read from the message itself (args[0] in RPC). */
const senderOf = (_context: unknown, [message]: unknown[]) => ({ userId: (message as { userId: string }).userId });

/** The user's microservice: a cart service with request-response and event handlers. */
@Controller()
class CartMessages {
  @MessagePattern('cart.add')
  @TrackEvent({
    name: 'addToCart',
    identity: senderOf,
    data: (_context, [message], cart: Cart) => ({
      sku: (message as AddToCart).sku,
      quantity: (message as AddToCart).quantity,
      cartId: cart.cartId,
    }),
  })
  add(@Payload() message: AddToCart): Cart {
    return { cartId: `cart-${message.userId}`, items: message.quantity };
  }

  @EventPattern('order.shipped')
  @TrackEvent({
    name: 'orderShipped',
    // The same message, through Nest's RPC context instead of args.
    identity: (context) => ({ userId: context.switchToRpc().getData<OrderShipped>().userId }),
    data: (context) => ({
      orderId: context.switchToRpc().getData<OrderShipped>().orderId,
      carrier: context.switchToRpc().getData<OrderShipped>().carrier,
    }),
  })
  async shipped(@Payload() _event: OrderShipped): Promise<void> {
    await Promise.resolve(); // e.g. update a read model
  }

  @MessagePattern('cart.checkout')
  @TrackEvent({ name: 'checkout', identity: senderOf })
  checkout(): never {
    throw new RpcException({ code: 'EMPTY_CART', message: 'cart is empty' });
  }

  @EventPattern('order.cancelled')
  @TrackEvent({ name: 'orderCancelled', identity: senderOf })
  async cancelled(@Payload() _event: { userId: string }): Promise<void> {
    await Promise.resolve();
    throw new RpcException('order already shipped');
  }

  /** No identity option: falls back to the module's resolver, or the default one. */
  @MessagePattern('catalog.view')
  @TrackEvent()
  viewProduct(@Payload() message: { userId: string; productId: number }) {
    return { productId: message.productId, name: 'milk' };
  }

  /** A later event with its own fixed identity: once it arrived, everything tracked before it has been captured. */
  @MessagePattern('marker')
  @TrackEvent({ name: 'marker', identity: { installationId: 'marker-device' } })
  mark(): string {
    return 'marked';
  }
}

interface ServiceHarness {
  readonly standIn: ChabokStandIn;
  readonly tracking: EventTrackingService;
  /** A client of the user's other service, connected over TCP. */
  readonly client: ClientProxy;
  close(): Promise<void>;
}

/** Starts the microservice on 127.0.0.1, port 0, with ChabokModule pointing at a fresh stand-in, and a connected client. */
async function startService(chabok: Partial<ChabokModuleOptions> = {}): Promise<ServiceHarness> {
  const standIn = await ChabokStandIn.start({ accessToken: `rpc-token-${randomBytes(12).toString('hex')}` });
  let service: INestMicroservice | undefined;
  let client: ClientProxy | undefined;
  try {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChabokModule.forRoot({
          baseUrl: standIn.baseUrl,
          accessToken: standIn.accessToken,
          ...HARNESS_CHABOK_DEFAULTS,
          ...chabok,
        }),
      ],
      controllers: [CartMessages],
    })
      .setLogger(nestLogs)
      .compile();
    service = moduleRef.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 } });
    await service.listen();
    const { port } = service.unwrap<Server>().address() as AddressInfo;
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
    const started = service;
    const connected = client;
    let closed: Promise<void> | undefined;
    return {
      standIn,
      tracking: started.get(EventTrackingService),
      client: connected,
      close: () =>
        (closed ??= (async () => {
          await connected.close();
          await started.close();
          await standIn.close();
        })()),
    };
  } catch (error) {
    await client?.close();
    await service?.close().catch(() => undefined);
    await standIn.close();
    throw error;
  }
}

/** Sends the marker, waits for its event and for everything queued before it; returns all event names, sorted. */
async function eventNamesUpToMarker(h: ServiceHarness): Promise<string[]> {
  expect(await firstValueFrom(h.client.send('marker', {}))).toBe('marked');
  await h.standIn.waitFor(() => h.standIn.events().some((e) => e.eventName === 'marker'));
  await h.tracking.flush();
  return h.standIn
    .events()
    .map((e) => String(e.eventName))
    .sort();
}

describe('@TrackEvent() in a TCP microservice', () => {
  describe('with the default options', () => {
    let h: ServiceHarness;
    beforeAll(async () => {
      h = await startService();
    });
    afterEach(async () => {
      await h.tracking.flush();
      h.standIn.reset();
      nestLogs.clear();
    });
    afterAll(() => h?.close());

    it('@MessagePattern: the reply is unchanged and the event carries the identity and data from the message and the result', async () => {
      const reply = await firstValueFrom(
        h.client.send<Cart, AddToCart>('cart.add', { userId: 'u-42', sku: 'milk-1l', quantity: 2 }),
      );

      expect(reply).toEqual({ cartId: 'cart-u-42', items: 2 });
      await h.standIn.waitForEvents(1);
      await h.tracking.flush();
      expect(h.standIn.events()).toEqual([
        {
          userId: 'u-42',
          eventName: 'addToCart',
          eventTime: expect.any(Number),
          eventData: { sku: 'milk-1l', quantity: 2, cartId: 'cart-u-42' },
        },
      ]);
    });

    it('@EventPattern: an emitted event is tracked once its async handler resolved, identity and data via ctx.switchToRpc().getData()', async () => {
      await firstValueFrom(
        h.client.emit<undefined, OrderShipped>('order.shipped', { userId: 'u-7', orderId: 'o-1', carrier: 'post' }),
        { defaultValue: undefined },
      );

      await h.standIn.waitForEvents(1);
      await h.tracking.flush();
      expect(h.standIn.events()).toEqual([
        {
          userId: 'u-7',
          eventName: 'orderShipped',
          eventTime: expect.any(Number),
          eventData: { orderId: 'o-1', carrier: 'post' },
        },
      ]);
    });

    it('@MessagePattern throwing RpcException: the client gets the error, no event is tracked', async () => {
      await expect(firstValueFrom(h.client.send('cart.checkout', { userId: 'u-42' }))).rejects.toEqual({
        code: 'EMPTY_CART',
        message: 'cart is empty',
      });

      expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      expect(nestLogs.text()).not.toContain(h.standIn.accessToken);
    });

    it('@EventPattern whose async handler throws RpcException: no event is tracked, and the service keeps serving', async () => {
      await firstValueFrom(h.client.emit('order.cancelled', { userId: 'u-42' }), { defaultValue: undefined });

      expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      // Nest's RPC exception handler saw the throw; the library had nothing to say about it.
      expect(nestLogs.withContext('RpcExceptionsHandler').map((line) => line.message)).toEqual([
        expect.stringContaining('order already shipped'),
      ]);
      expect(nestLogs.withContext('Chabok')).toEqual([]);
    });

    it('no identity option and no module resolver: the default finds no HTTP request in RPC, skips the event, and the reply is fine', async () => {
      const reply = await firstValueFrom(h.client.send('catalog.view', { userId: 'u-42', productId: 7 }));

      expect(reply).toEqual({ productId: 7, name: 'milk' });
      expect(await eventNamesUpToMarker(h)).toEqual(['marker']);
      expect(nestLogs.withContext('Chabok')).toEqual([
        { level: 'debug', context: 'Chabok', message: 'No identity for "viewProduct"; event skipped' },
      ]);
    });
  });

  describe('with a module-wide identity resolver that reads RPC messages', () => {
    let h: ServiceHarness;
    beforeAll(async () => {
      h = await startService({
        identity: (context) => {
          if (context.getType() !== 'rpc') return undefined;
          const userId = context.switchToRpc().getData<{ userId?: unknown }>().userId;
          return typeof userId === 'string' ? { userId } : undefined;
        },
      });
    });
    afterAll(() => h?.close());

    it('a bare @TrackEvent() is tracked with the identity it returns', async () => {
      const reply = await firstValueFrom(h.client.send('catalog.view', { userId: 'u-9', productId: 7 }));

      expect(reply).toEqual({ productId: 7, name: 'milk' });
      await h.standIn.waitForEvents(1);
      await h.tracking.flush();
      expect(h.standIn.events()).toEqual([{ userId: 'u-9', eventName: 'viewProduct', eventTime: expect.any(Number) }]);
    });
  });
});
