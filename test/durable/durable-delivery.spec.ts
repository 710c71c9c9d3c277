/**
 * `delivery: { mode: 'durable' }` in one process: a user's Nest app queues its events in a
 * local redis-server with BullMQ (track() resolves once Redis holds the job) and its
 * workers send them to the local Chabok stand-in. Each case checks what arrived at Chabok,
 * what Redis holds, how track() settled, and what onError, stats() and the logs said.
 */
import { Controller, Get, HttpCode, Inject, Param, Post, type INestApplication, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { jest } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  ChabokDeliveryError,
  ChabokModule,
  EventTrackingService,
  TrackEvent,
  type ChabokFailure,
  type ChabokModuleOptions,
} from '../../src/index.js';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { RecordingLogger } from '../support/recording-logger.js';
import { RedisServer } from '../support/redis-server.js';

jest.setTimeout(30_000);

type DurableOptions = Extract<NonNullable<ChabokModuleOptions['delivery']>, { mode: 'durable' }>;

/** A token that is easy to spot if it ever reaches Redis, a log line or an error. */
const TOKEN = 'tok-DURABLE-inproc-3c9d51f0e2';
/** Upper bound of any single wait: far above what a case needs, so only a hang trips it. */
const WAIT = 15_000;

interface DurableApp {
  readonly app: INestApplication;
  readonly tracking: EventTrackingService;
  /** Every failure the onError hook received. */
  readonly failures: ChabokFailure[];
  close(): Promise<void>;
}

const logs = new RecordingLogger();
const apps = new Set<DurableApp>();
let redis: RedisServer;
let standIn: ChabokStandIn;
let queueSeq = 0;
let chabokIsDown = false;

async function chabokGoesDown(): Promise<void> {
  await standIn.goDown();
  chabokIsDown = true;
}

async function chabokComesBack(): Promise<void> {
  await standIn.comeBack();
  chabokIsDown = false;
}

/** A fresh queue name per case, so cases never see each other's jobs. */
function queueName(): string {
  return `durable-spec-${process.pid}-${++queueSeq}`;
}

/** Builds and initialises a user's Nest app with ChabokModule in durable mode (short timings). */
async function startApp(
  delivery: Omit<DurableOptions, 'mode' | 'connection'> & { connection?: object },
  { controllers = [], chabok = {} }: { controllers?: Type[]; chabok?: Partial<ChabokModuleOptions> } = {},
): Promise<DurableApp> {
  const failures: ChabokFailure[] = [];
  const moduleRef = await Test.createTestingModule({
    imports: [
      ChabokModule.forRoot({
        baseUrl: standIn.baseUrl,
        accessToken: TOKEN,
        flushIntervalMs: 10,
        retryBaseDelayMs: 10,
        retryMaxDelayMs: 100,
        timeoutMs: 1_000,
        shutdownTimeoutMs: 1_000,
        onError: (failure) => failures.push(failure),
        delivery: { mode: 'durable', connection: redis.connection, stalledIntervalMs: 500, ...delivery },
        ...chabok,
      }),
    ],
    controllers,
  })
    .setLogger(logs)
    .compile();
  const app = moduleRef.createNestApplication();
  await app.init();
  let closed: Promise<void> | undefined;
  const started: DurableApp = {
    app,
    tracking: app.get(EventTrackingService),
    failures,
    close: () => (closed ??= app.close()),
  };
  apps.add(started);
  return started;
}

/** Inspects a queue the way an operator would, with BullMQ's own Queue. */
function inspect(name: string, server: RedisServer = redis): Queue {
  const queue = new Queue(name, { connection: { ...server.connection, maxRetriesPerRequest: null } });
  cleanups.push(() => queue.close());
  return queue;
}
const cleanups: (() => Promise<unknown>)[] = [];

/** One numbered event; its seq travels in eventData. */
function order(seq: number, extra: Record<string, unknown> = {}) {
  return { userId: `user-${seq}`, eventName: 'orderPlaced', eventData: { seq, ...extra } };
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** Seqs that arrived at the stand-in, in arrival order (repeats included). */
function arrivedSeqs(): number[] {
  return standIn.events().map((e) => (e.eventData as { seq: number }).seq);
}

function sorted(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether `promise` settled within `ms`: a hang check, not a speed check. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return result;
}

function reasonOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) =>
      error instanceof ChabokDeliveryError ? error.reason : `not a ChabokDeliveryError: ${String(error)}`,
  );
}

beforeAll(async () => {
  redis = await RedisServer.start();
  standIn = await ChabokStandIn.start({ accessToken: TOKEN });
});

afterEach(async () => {
  if (chabokIsDown) await chabokComesBack();
  for (const app of [...apps]) await app.close();
  apps.clear();
  for (const cleanup of cleanups.splice(0)) await cleanup();
  standIn.reset();
});

afterAll(async () => {
  await standIn?.close();
  await redis?.stop();
});

describe('durable delivery', () => {
  it('delivers each tracked event exactly once, with the eventTime captured at track()', async () => {
    const { tracking } = await startApp({ queueName: queueName() });
    const total = 2_000;
    const startedAt = Date.now();
    const acks = range(0, total).map((seq) => tracking.track(order(seq)));
    const trackedAt = Date.now();
    // A caller's own eventTime is kept as given.
    const past = new Date('2024-03-01T10:00:00.000Z');
    acks.push(tracking.track({ ...order(total), eventTime: past }));

    await Promise.all(acks);
    const ackedAt = Date.now();
    await standIn.waitForEvents(total + 1, WAIT);
    const deliveredAt = Date.now();

    expect(sorted(arrivedSeqs())).toEqual(range(0, total + 1));
    const times = standIn
      .events()
      .filter((e) => (e.eventData as { seq: number }).seq < total)
      .map((e) => e.eventTime as number);
    expect(times.filter((t) => t < startedAt || t > trackedAt)).toEqual([]);
    expect(standIn.events().find((e) => (e.eventData as { seq: number }).seq === total)?.eventTime).toBe(
      past.getTime(),
    );
    await waitUntil(
      () => tracking.stats().durable?.waiting === 0 && tracking.stats().delivered === total + 1,
      'stats to settle',
    );
    expect(tracking.stats()).toMatchObject({ accepted: total + 1, delivered: total + 1, failed: 0, dropped: 0 });

    console.log(
      `durable, one process: ${total + 1} track() calls took ${trackedAt - startedAt} ms to validate, ` +
        `${ackedAt - startedAt} ms until Redis acknowledged all (${Math.round(((total + 1) / (ackedAt - startedAt)) * 1000)}/s), ` +
        `${deliveredAt - startedAt} ms until all were at Chabok (${Math.round(((total + 1) / (deliveredAt - startedAt)) * 1000)}/s) in ${tracking.stats().batchesSent} requests`,
    );
  });

  it("fails a job Chabok refused with Chabok's reason, keeps it inspectable, and reports it to onError", async () => {
    const name = queueName();
    // Chabok refuses any request that carries the poisoned event (the engine bisects down to it).
    standIn.fault = (req) =>
      req.raw.includes('"poison":true')
        ? { status: 400, body: '{"error":"eventData.poison is not accepted"}' }
        : undefined;
    const { tracking, failures } = await startApp({ queueName: name });
    const acks = range(0, 20).map((seq) => tracking.track(order(seq, seq === 7 ? { poison: true } : {})));
    // track() resolves once Redis holds the job, so the poisoned one resolves too.
    expect(await Promise.all(acks.map(reasonOf))).toEqual(range(0, 20).map(() => 'resolved'));

    const queue = inspect(name);
    await waitUntil(
      async () => (await queue.getFailedCount()) === 1 && standIn.acceptedCount === 19,
      'the refused job to fail',
    );
    expect(sorted(arrivedSeqs())).toEqual(range(0, 20).filter((seq) => seq !== 7));

    const [failed, ...others] = await queue.getFailed();
    expect(others).toEqual([]);
    expect(failed!.data).toMatchObject({
      endpoint: 'installations/track',
      event: { userId: 'user-7', eventData: { seq: 7, poison: true } },
    });
    expect(failed!.failedReason).toContain('rejected');
    expect(failed!.failedReason).toContain('eventData.poison is not accepted');

    expect(failures).toHaveLength(1);
    expect(failures[0]!.error).toMatchObject({ reason: 'rejected', status: 400 });
    expect(failures[0]!.error.responseBody).toContain('eventData.poison is not accepted');
    expect(failures[0]!.events).toEqual([expect.objectContaining({ userId: 'user-7' })]);
    await waitUntil(() => tracking.stats().durable?.failed === 1, 'stats().durable.failed');
    expect(tracking.stats()).toMatchObject({ delivered: 19, failed: 1 });
  });

  it('keeps the access token out of Redis: no key or value holds it', async () => {
    const name = queueName();
    standIn.fault = (req) =>
      req.raw.includes('"poison":true') ? { status: 400, body: '{"error":"refused for the scan"}' } : undefined;
    const first = await startApp({ queueName: name });
    // Delivered, failed (kept) and waiting jobs all leave something in Redis.
    await Promise.all(range(0, 30).map((seq) => first.tracking.track(order(seq, seq === 3 ? { poison: true } : {}))));
    const queue = inspect(name);
    await waitUntil(async () => (await queue.getFailedCount()) === 1 && standIn.acceptedCount === 29, 'delivery');
    await first.close(); // no worker left: the next event stays waiting in Redis
    const producer = await startApp({ queueName: name, role: 'producer' });
    await producer.tracking.track(order(99));

    const dump = await dumpRedis(redis);
    expect(dump.keys).toBeGreaterThan(5);
    // The dump really holds the values: the waiting event, the failed one and Chabok's reason.
    expect(dump.text).toContain('user-99');
    expect(dump.text).toContain('refused for the scan');
    expect(dump.text).not.toContain(TOKEN);
    expect(logs.text()).not.toContain(TOKEN);
    expect(JSON.stringify([first.tracking.stats(), producer.tracking.stats()])).not.toContain(TOKEN);
  });

  it('holds the backlog through a Chabok outage and drains it when Chabok is back, nothing lost', async () => {
    const { tracking, failures } = await startApp({ queueName: queueName() });
    await chabokGoesDown();
    const total = 300;
    await Promise.all(range(0, total).map((seq) => tracking.track(order(seq))));
    await waitUntil(() => tracking.stats().retried > 0, 'a failed attempt');
    expect(tracking.stats().lastError?.message).toMatch(/ECONNREFUSED/);

    await chabokComesBack();
    await standIn.waitForEvents(total, WAIT);
    expect(sorted(arrivedSeqs())).toEqual(range(0, total));
    await waitUntil(() => tracking.stats().delivered === total, 'stats().delivered');
    expect(failures).toEqual([]);
    expect(tracking.stats()).toMatchObject({ failed: 0, dropped: 0 });
  });

  it('at shutdown during a Chabok outage, hands the jobs it held back to Redis for the next worker', async () => {
    const name = queueName();
    const first = await startApp({ queueName: name });
    await chabokGoesDown();
    const total = 100;
    await Promise.all(range(0, total).map((seq) => first.tracking.track(order(seq))));
    await waitUntil(
      () => first.tracking.stats().retried > 0 && first.tracking.stats().queued + first.tracking.stats().inFlight > 0,
      'the worker to hold jobs',
    );

    // Bounded although Chabok never answers: shutdownTimeoutMs (1 s) of draining, then the jobs go back.
    expect(await settlesWithin(first.close(), 10_000)).toBe(true);
    const queue = inspect(name);
    const counts = await queue.getJobCounts('wait', 'delayed', 'active', 'failed');
    expect(counts).toEqual({ wait: expect.any(Number), delayed: expect.any(Number), active: 0, failed: 0 });
    expect(counts.wait + counts.delayed).toBe(total);
    expect(first.failures).toEqual([]); // nothing was lost, so nothing is reported

    await chabokComesBack();
    const next = await startApp({ queueName: name, role: 'worker' });
    await standIn.waitForEvents(total, WAIT);
    expect(sorted(arrivedSeqs())).toEqual(range(0, total));
    expect(next.failures).toEqual([]);
  });

  it('at shutdown, lets the requests in flight to Chabok finish: nothing is sent twice', async () => {
    const name = queueName();
    standIn.fault = () => ({ delayMs: 300 }); // a slow Chabok: the request is still in flight at close()
    const app = await startApp({ queueName: name });
    await Promise.all(range(0, 10).map((seq) => app.tracking.track(order(seq))));
    await waitUntil(() => app.tracking.stats().inFlight === 10, 'the batch to be in flight');

    await app.close();
    await standIn.waitFor(() => standIn.requests.every((r) => r.status !== 0), WAIT); // every request answered
    expect(standIn.requests.map((r) => r.status)).toEqual([200]);
    expect(sorted(arrivedSeqs())).toEqual(range(0, 10));
    expect(await inspect(name).getJobCounts('wait', 'active', 'delayed', 'failed')).toEqual({
      wait: 0,
      active: 0,
      delayed: 0,
      failed: 0,
    });
    expect(app.failures).toEqual([]);
  });

  it('fails a job that waited longer than deliveryDeadlineMs as expired, and reports it to onError', async () => {
    const name = queueName();
    const producer = await startApp({ queueName: name, role: 'producer' });
    await Promise.all(range(0, 3).map((seq) => producer.tracking.track(order(seq))));
    // A worker whose deadline (1 ms) is long past by the time it takes the jobs.
    const worker = await startApp({ queueName: name, role: 'worker' }, { chabok: { deliveryDeadlineMs: 1 } });

    const queue = inspect(name);
    await waitUntil(async () => (await queue.getFailedCount()) === 3, 'the jobs to fail');
    expect((await queue.getFailed()).map((job) => job.failedReason)).toEqual(
      range(0, 3).map(() => expect.stringMatching(/^expired: /)),
    );
    expect(worker.failures.map((f) => [f.error.reason, f.events.map((e) => e.userId)])).toEqual(
      expect.arrayContaining(range(0, 3).map((seq) => ['expired', [`user-${seq}`]])),
    );
    expect(worker.failures).toHaveLength(3);
    expect(worker.tracking.stats()).toMatchObject({ delivered: 0, failed: 3 });
    expect(standIn.acceptedCount).toBe(0);
  });

  it("with Redis down and onRedisDown 'reject', track() rejects with reason 'unavailable' and the app keeps serving", async () => {
    const ownRedis = await RedisServer.start();
    cleanups.push(() => ownRedis.stop());

    @Controller('shop')
    class ShopController {
      constructor(@Inject(EventTrackingService) private readonly tracking: EventTrackingService) {}

      @Get('products/:id')
      @TrackEvent({ name: 'productViewed', identity: { userId: 'shopper-1' } })
      viewProduct(@Param('id') id: string) {
        return { id, name: 'milk' };
      }

      @Post('checkout')
      @HttpCode(200)
      async checkout() {
        const tracked = await this.tracking.track({ userId: 'shopper-1', eventName: 'checkout' }).then(
          () => 'queued',
          (e: ChabokDeliveryError) => e.reason,
        );
        return { paid: true, tracked };
      }
    }

    const { app, tracking, failures } = await startApp(
      { queueName: queueName(), connection: ownRedis.connection, onRedisDown: 'reject' },
      { controllers: [ShopController] },
    );
    await request(app.getHttpServer()).get('/shop/products/1').expect(200, { id: '1', name: 'milk' });
    await standIn.waitForEvents(1, WAIT);

    await ownRedis.stop();
    const refused = tracking.track({ userId: 'shopper-1', eventName: 'wishlisted' });
    await expect(refused).rejects.toBeInstanceOf(ChabokDeliveryError);
    await expect(refused).rejects.toMatchObject({ reason: 'unavailable' });
    await request(app.getHttpServer()).get('/shop/products/2').expect(200, { id: '2', name: 'milk' });
    await request(app.getHttpServer()).post('/shop/checkout').expect(200, { paid: true, tracked: 'unavailable' });

    await waitUntil(() => failures.length === 3, 'onError for the three refused events');
    expect(failures.map((f) => [f.error.reason, f.events[0]!.eventName])).toEqual(
      expect.arrayContaining([
        ['unavailable', 'wishlisted'],
        ['unavailable', 'productViewed'],
        ['unavailable', 'checkout'],
      ]),
    );
    await waitUntil(() => tracking.stats().durable?.redisUp === false, 'stats().durable.redisUp');
    expect(tracking.stats().durable).toMatchObject({ unavailable: 3, fallbacks: 0 });
    expect(standIn.acceptedCount).toBe(1);
    expect(failures.map((f) => f.error.message).join('\n')).not.toContain(TOKEN);
    // Shutdown does not wait for Redis to come back.
    expect(await settlesWithin(app.close(), 10_000)).toBe(true);
  });

  it("with Redis down and onRedisDown 'memory', events are still delivered, through the in-memory queue", async () => {
    const ownRedis = await RedisServer.start();
    cleanups.push(() => ownRedis.stop());
    const { tracking, failures } = await startApp({
      queueName: queueName(),
      connection: ownRedis.connection,
      onRedisDown: 'memory',
    });
    await ownRedis.stop();

    // In-memory delivery: track() resolves once Chabok accepted the event.
    await Promise.all(range(0, 20).map((seq) => tracking.track(order(seq))));
    expect(sorted(arrivedSeqs())).toEqual(range(0, 20));
    expect(tracking.stats().durable).toMatchObject({ fallbacks: 20, unavailable: 0, redisUp: false });
    expect(failures).toEqual([]);
  });

  it('drops the newest events beyond maxQueueLength waiting jobs (producer only, no workers)', async () => {
    const name = queueName();
    const { tracking, failures } = await startApp({ queueName: name, role: 'producer', maxQueueLength: 50 });
    expect(await Promise.all(range(0, 30).map((seq) => reasonOf(tracking.track(order(seq)))))).toEqual(
      range(0, 30).map(() => 'resolved'),
    );
    // Straight after: Redis counts are only read every second, yet the bound holds.
    const second = await Promise.all(range(30, 30).map((seq) => reasonOf(tracking.track(order(seq)))));
    expect(second).toEqual([...range(30, 20).map(() => 'resolved'), ...range(50, 10).map(() => 'dropped')]);

    expect(await inspect(name).getWaitingCount()).toBe(50);
    expect(failures.map((f) => f.error.reason)).toEqual(range(0, 10).map(() => 'dropped'));
    expect(failures.flatMap((f) => f.events.map((e) => (e.eventData as { seq: number }).seq))).toEqual(range(50, 10));
    await waitUntil(() => tracking.stats().durable?.waiting === 50, 'stats().durable.waiting');
    expect(await reasonOf(tracking.track(order(60)))).toBe('dropped');
    expect(tracking.stats()).toMatchObject({ accepted: 50, dropped: 11, delivered: 0 });
    expect(standIn.acceptedCount).toBe(0);
  });

  it('uses a BullMQ Queue the app already has, with its prefix, and leaves it open at shutdown', async () => {
    const name = queueName();
    const queue = new Queue(name, { connection: { ...redis.connection, maxRetriesPerRequest: null }, prefix: 'shop' });
    cleanups.push(() => queue.close());
    const app = await startApp({ queue, connection: undefined });
    await Promise.all(range(0, 5).map((seq) => app.tracking.track(order(seq))));
    await standIn.waitForEvents(5, WAIT);
    expect(sorted(arrivedSeqs())).toEqual(range(0, 5));
    expect(await dumpRedisKeys(redis, `shop:${name}:*`)).not.toEqual([]);
    expect(await dumpRedisKeys(redis, `bull:${name}:*`)).toEqual([]);

    await app.close();
    expect(await queue.getJobCounts('wait', 'active', 'failed')).toEqual({ wait: 0, active: 0, failed: 0 }); // still open
  });

  it("queues in a 'producer' app and delivers from a separate 'worker' app, with the captured eventTime", async () => {
    const name = queueName();
    const producer = await startApp({ queueName: name, role: 'producer' });
    const total = 200;
    const startedAt = Date.now();
    await Promise.all(range(0, total).map((seq) => producer.tracking.track(order(seq))));
    const trackedAt = Date.now();
    await waitUntil(() => producer.tracking.stats().durable?.waiting === total, 'stats().durable.waiting');
    expect(standIn.acceptedCount).toBe(0); // no worker yet

    const workerStartedAt = Date.now();
    const worker = await startApp({ queueName: name, role: 'worker' });
    await standIn.waitForEvents(total, WAIT);
    expect(sorted(arrivedSeqs())).toEqual(range(0, total));
    // Sent after the worker started, stamped with when track() was called.
    expect(standIn.requests.every((r) => r.at >= workerStartedAt)).toBe(true);
    expect(
      standIn.events().filter((e) => (e.eventTime as number) < startedAt || (e.eventTime as number) > trackedAt),
    ).toEqual([]);
    await waitUntil(() => worker.tracking.stats().delivered === total, 'the worker stats');
    expect(producer.tracking.stats()).toMatchObject({ accepted: total, delivered: 0 });
    expect(worker.tracking.stats()).toMatchObject({ accepted: 0, delivered: total, failed: 0 });
  });
});

/** Keys matching a glob pattern. */
async function dumpRedisKeys(server: RedisServer, pattern: string): Promise<string[]> {
  const client = new Redis({ ...server.connection, maxRetriesPerRequest: 1 });
  try {
    return await client.keys(pattern);
  } finally {
    client.disconnect();
  }
}

/** Every key in Redis and every value under it (strings, hashes, lists, sets, sorted sets, streams). */
async function dumpRedis(server: RedisServer): Promise<{ keys: number; text: string }> {
  const client = new Redis({ ...server.connection, maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    let cursor = '0';
    for (let round = 0; round < 10_000; round++) {
      const [next, batch] = await client.scan(cursor, 'COUNT', 1_000);
      keys.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
    const parts: Buffer[] = [];
    const add = (value: unknown): void => {
      if (Buffer.isBuffer(value)) parts.push(value);
      else if (Array.isArray(value)) value.forEach(add);
      else if (value && typeof value === 'object')
        Object.entries(value).forEach(([k, v]) => (add(Buffer.from(k)), add(v)));
      else if (value !== null && value !== undefined) parts.push(Buffer.from(String(value)));
    };
    for (const key of keys) {
      add(Buffer.from(key));
      const type = await client.type(key);
      if (type === 'string') add(await client.getBuffer(key));
      else if (type === 'hash') add(await client.hgetallBuffer(key));
      else if (type === 'list') add(await client.lrangeBuffer(key, 0, -1));
      else if (type === 'set') add(await client.smembersBuffer(key));
      else if (type === 'zset') add(await client.zrangeBuffer(key, 0, -1));
      else if (type === 'stream') add(await client.xrangeBuffer(key, '-', '+'));
      else throw new Error(`unexpected type ${type} of ${key}`);
    }
    return { keys: keys.length, text: Buffer.concat(parts).toString('latin1') };
  } finally {
    client.disconnect();
  }
}
