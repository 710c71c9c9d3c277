/**
 * @TrackEvent() on GraphQL resolvers: a user's code-first Apollo app on Express, real
 * GraphQL queries and mutations over HTTP, and what arrives at the local Chabok stand-in.
 * In GraphQL, args are [root, args, context, info]: args[1] holds the field's arguments and
 * the default identity reads the HTTP request from context.req.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Module, type INestApplication, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Args, Field, GraphQLModule, ID, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { ExpressAdapter } from '@nestjs/platform-express';
import { jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { GraphQLError } from 'graphql';
import request from 'supertest';
import { ChabokModule, EventTrackingService, TrackEvent } from '../../src/index.js';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { HARNESS_CHABOK_DEFAULTS, nestLogs } from '../support/app-harness.js';

jest.setTimeout(30_000);

const INSTALLATION_HEADER = 'x-chabok-installation-id';

@ObjectType()
class Product {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => Int) price!: number;
}

@ObjectType()
class CartLine {
  @Field() cartId!: string;
  @Field() sku!: string;
  @Field(() => Int) quantity!: number;
}

/** The user's resolvers. */
@Resolver()
class ShopResolver {
  @Query(() => Product)
  @TrackEvent({
    name: 'productViewed',
    data: (_context, [, args], product: Product) => ({ productId: (args as { id: string }).id, price: product.price }),
  })
  product(@Args('id', { type: () => ID }) id: string): Product {
    return { id, name: 'milk', price: 990 };
  }

  @Mutation(() => CartLine)
  @TrackEvent({
    name: 'addToCart',
    data: (_context, [, args], line: CartLine) => ({
      sku: (args as { sku: string }).sku,
      quantity: (args as { quantity: number }).quantity,
      cartId: line.cartId,
    }),
  })
  async addToCart(
    @Args('sku') sku: string,
    @Args('quantity', { type: () => Int }) quantity: number,
  ): Promise<CartLine> {
    await Promise.resolve(); // e.g. a database write
    return { cartId: 'cart-1', sku, quantity };
  }

  @Mutation(() => Boolean)
  @TrackEvent({ name: 'checkout' })
  checkout(): boolean {
    throw new GraphQLError('cart is empty', { extensions: { code: 'EMPTY_CART' } });
  }

  /** A later event with its own fixed identity: once it arrived, everything tracked before it has been captured. */
  @Query(() => String)
  @TrackEvent({ name: 'marker', identity: { installationId: 'marker-device' } })
  marker(): string {
    return 'marked';
  }
}

/** Stands in for an auth middleware (passport and the like): `x-test-user: 42` logs in user 42 (a number id). */
@Module({})
class FakeAuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(
        (
          req: { headers: Record<string, unknown>; user?: { id: string | number } },
          _res: unknown,
          next: () => void,
        ) => {
          const user = req.headers['x-test-user'];
          if (typeof user === 'string') req.user = { id: /^\d+$/.test(user) ? Number(user) : user };
          next();
        },
      )
      .forRoutes('graphql');
  }
}

let standIn: ChabokStandIn;
let app: INestApplication;
let tracking: EventTrackingService;
let url: string;

beforeAll(async () => {
  standIn = await ChabokStandIn.start({ accessToken: `gql-token-${randomBytes(12).toString('hex')}` });
  const moduleRef = await Test.createTestingModule({
    imports: [
      ChabokModule.forRoot({ baseUrl: standIn.baseUrl, accessToken: standIn.accessToken, ...HARNESS_CHABOK_DEFAULTS }),
      GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
      FakeAuthModule,
    ],
    providers: [ShopResolver],
  })
    .setLogger(nestLogs)
    .compile();
  app = moduleRef.createNestApplication(new ExpressAdapter());
  await app.init();
  await app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  tracking = app.get(EventTrackingService);
});

afterEach(async () => {
  await tracking.flush();
  standIn.reset();
  nestLogs.clear();
});

afterAll(async () => {
  await app?.close();
  await standIn?.close();
});

/** A GraphQL operation over HTTP, as a browser or mobile client sends it. */
function graphql(
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): request.Test {
  return request(url).post('/graphql').set(headers).send({ query, variables });
}

/** Sends one operation and returns its response body and the single event it produced. */
async function eventOf(call: request.Test): Promise<{ body: unknown; event: Record<string, unknown> }> {
  const before = standIn.events().length;
  const res = await call.expect(200);
  await standIn.waitFor(() => standIn.events().length > before);
  await tracking.flush();
  const events = standIn.events().slice(before);
  expect(events).toHaveLength(1);
  return { body: res.body, event: events[0]! };
}

/** Runs the marker query, waits for its event and for everything queued before it; returns all event names, sorted. */
async function eventNamesUpToMarker(): Promise<string[]> {
  await graphql('{ marker }').expect(200, { data: { marker: 'marked' } });
  await standIn.waitFor(() => standIn.events().some((e) => e.eventName === 'marker'));
  await tracking.flush();
  return standIn
    .events()
    .map((e) => String(e.eventName))
    .sort();
}

const PRODUCT = 'query Product($id: ID!) { product(id: $id) { id name price } }';
const ADD_TO_CART =
  'mutation Add($sku: String!, $quantity: Int!) { addToCart(sku: $sku, quantity: $quantity) { cartId sku quantity } }';

describe('@TrackEvent() on GraphQL resolvers (Apollo, Express)', () => {
  describe('a query', () => {
    it('the response is unchanged; the installation header becomes installationId; data comes from args[1] and the result', async () => {
      const { body, event } = await eventOf(graphql(PRODUCT, { id: '7' }, { [INSTALLATION_HEADER]: 'device-1' }));

      expect(body).toEqual({ data: { product: { id: '7', name: 'milk', price: 990 } } });
      expect(event).toEqual({
        installationId: 'device-1',
        eventName: 'productViewed',
        eventTime: expect.any(Number),
        eventData: { productId: '7', price: 990 },
      });
    });

    it('a user set by middleware on context.req becomes userId (as a string) and wins over the installation header', async () => {
      const { event } = await eventOf(
        graphql(PRODUCT, { id: '7' }, { 'x-test-user': '42', [INSTALLATION_HEADER]: 'device-1' }),
      );

      expect(event).toMatchObject({ userId: '42', eventName: 'productViewed' });
      expect(event).not.toHaveProperty('installationId');
    });

    it('two tracked fields in one operation: one event per field', async () => {
      const res = await graphql(
        '{ a: product(id: "1") { name } b: product(id: "2") { price } }',
        {},
        { 'x-test-user': 'ali' },
      ).expect(200, { data: { a: { name: 'milk' }, b: { price: 990 } } });

      expect(res.body.errors).toBeUndefined();
      await standIn.waitForEvents(2);
      await tracking.flush();
      expect(
        standIn
          .events()
          .map((e) => [e.userId, (e.eventData as { productId: string }).productId])
          .sort(),
      ).toEqual([
        ['ali', '1'],
        ['ali', '2'],
      ]);
    });

    it('no user and no installation header: nothing is sent, the response is fine', async () => {
      await graphql(PRODUCT, { id: '7' }).expect(200, { data: { product: { id: '7', name: 'milk', price: 990 } } });

      expect(await eventNamesUpToMarker()).toEqual(['marker']);
      expect(nestLogs.withContext('Chabok')).toEqual([
        { level: 'debug', context: 'Chabok', message: 'No identity for "productViewed"; event skipped' },
      ]);
    });
  });

  describe('a mutation', () => {
    it('an async resolver: the response is unchanged and the event carries the mutation arguments and the result', async () => {
      const { body, event } = await eventOf(
        graphql(ADD_TO_CART, { sku: 'milk-1l', quantity: 2 }, { 'x-test-user': '42' }),
      );

      expect(body).toEqual({ data: { addToCart: { cartId: 'cart-1', sku: 'milk-1l', quantity: 2 } } });
      expect(event).toEqual({
        userId: '42',
        eventName: 'addToCart',
        eventTime: expect.any(Number),
        eventData: { sku: 'milk-1l', quantity: 2, cartId: 'cart-1' },
      });
    });

    it('a resolver that throws: the client gets the GraphQL error, no event is tracked', async () => {
      const res = await graphql('mutation { checkout }', {}, { 'x-test-user': '42' }).expect(200);

      expect(res.body).toEqual({
        data: null,
        errors: [
          expect.objectContaining({
            message: 'cart is empty',
            path: ['checkout'],
            extensions: expect.objectContaining({ code: 'EMPTY_CART' }),
          }),
        ],
      });
      expect(await eventNamesUpToMarker()).toEqual(['marker']);
      expect(nestLogs.text()).not.toContain(standIn.accessToken);
    });
  });
});
