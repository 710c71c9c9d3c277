/**
 * Durable mode across processes: a real Nest HTTP app (test/fixtures/durable-app.ts, run
 * from its build in child processes) queues events in a local redis-server with BullMQ.
 * - Killed with SIGKILL under load, a new process on the same queue delivers every event
 *   the dead one acknowledged (track() resolved); the jobs the dead worker held come back
 *   through BullMQ's stall detection, so a few may arrive twice, never more than it held.
 * - Two processes sharing one queue deliver every event exactly once between them.
 * - With Redis gone, SIGTERM still ends the process by itself (nothing left reconnecting).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';
import { Queue } from 'bullmq';
import { ChabokStandIn, type AcceptedEvent } from '../../stand-in/chabok-stand-in.js';
import { post } from '../support/post.js';
import { RedisServer } from '../support/redis-server.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/dist/durable-app.js', import.meta.url));
const TOKEN = 'tok-DURABLE-crash-5b1e0c9a77';
/** Jobs one child's worker holds at most: the bound on duplicates after a crash. */
const CONCURRENCY = 50;
/**
 * The crashed worker's lock on its jobs (BullMQ lockDuration): they are taken for stalled once
 * it expires (the default is 30 s). Long enough that a live worker under load never loses one.
 */
const LOCK_DURATION_MS = 3_000;
/** Upper bound of any single wait: far above what a case needs, so only a hang trips it. */
const WAIT = 30_000;

jest.setTimeout(60_000);

interface Child {
  readonly process: ChildProcess;
  readonly port: number;
  /** Seqs whose track() resolved, in order. */
  readonly acks: number[];
  readonly nacks: { nack: number; reason: string }[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitStats(): { accepted: number; delivered: number; failed: number } | undefined;
  output(): string;
}

const children = new Set<Child>();

async function startChild(env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acks: number[] = [];
  const nacks: { nack: number; reason: string }[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  let port: number | undefined;
  let exitStats: ReturnType<Child['exitStats']>;
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const text of lines) {
      if (!text.startsWith('{')) continue;
      const message = JSON.parse(text) as {
        ack?: number;
        nack?: number;
        reason?: string;
        listening?: number;
        exitStats?: typeof exitStats;
      };
      if (message.ack !== undefined) acks.push(message.ack);
      if (message.nack !== undefined) nacks.push({ nack: message.nack, reason: message.reason! });
      if (message.listening !== undefined) port = message.listening;
      if (message.exitStats !== undefined) exitStats = message.exitStats;
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const child: Child = {
    process: proc,
    port: 0,
    acks,
    nacks,
    exited,
    exitStats: () => exitStats,
    output: () => `${stdout}\n${stderr}`,
  };
  children.add(child);
  await waitUntil(() => port !== undefined || proc.exitCode !== null, WAIT, 'durable-app start');
  if (port === undefined) throw new Error(`durable-app exited before listening:\n${child.output()}`);
  return Object.assign(child, { port });
}

async function stopChild(
  child: Child,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    child.exited,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 15_000))),
  ]);
  clearTimeout(timer);
  if (!result) {
    child.process.kill('SIGKILL');
    await child.exited;
    throw new Error(`durable-app did not exit within 15 s of ${signal}:\n${child.output()}`);
  }
  children.delete(child);
  return result;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** Sends `paths` with `concurrency` requests in flight until all are sent or `stop()` holds. */
async function load(
  paths: { port: number; path: string }[],
  concurrency: number,
  stop: () => boolean = () => false,
): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < paths.length && !stop()) {
        const { port, path } = paths[next++]!;
        statuses.push(await post(port, path, { agent }));
      }
    }),
  );
  return statuses;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 20 ms; rejects after `timeoutMs`. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** What arrived at the stand-in, by the event's seq. */
class Arrivals {
  readonly bySeq = new Map<number, number[]>(); // seq -> eventTime of each copy
  total = 0;

  record(accepted: AcceptedEvent): void {
    const seq = (accepted.event.eventData as { seq: number }).seq;
    this.total++;
    this.bySeq.set(seq, [...(this.bySeq.get(seq) ?? []), accepted.event.eventTime as number]);
  }

  has(seq: number): boolean {
    return this.bySeq.has(seq);
  }

  /** Copies beyond the first, over all seqs. */
  get duplicates(): number {
    return this.total - this.bySeq.size;
  }

  clear(): void {
    this.bySeq.clear();
    this.total = 0;
  }
}

function inspect(redis: RedisServer, queueName: string): Queue {
  return new Queue(queueName, { connection: { ...redis.connection, maxRetriesPerRequest: null } });
}

async function queueIsEmpty(queue: Queue): Promise<boolean> {
  const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
  return c.wait + c.active + c.delayed + c.prioritized === 0;
}

describe('durable delivery across processes', () => {
  let redis: RedisServer;
  let standIn: ChabokStandIn;
  const arrivals = new Arrivals();

  beforeAll(async () => {
    if (!existsSync(FIXTURE))
      throw new Error(`${FIXTURE} is missing: run \`npm run build && npm run build:fixtures\` first`);
    redis = await RedisServer.start();
    standIn = await ChabokStandIn.start({
      accessToken: TOKEN,
      recordRequests: false,
      onEvent: (e) => arrivals.record(e),
    });
  });

  afterEach(async () => {
    for (const child of [...children]) await stopChild(child, 'SIGKILL').catch(() => undefined);
    standIn.reset();
    arrivals.clear();
  });

  afterAll(async () => {
    agent.destroy();
    await standIn?.close();
    await redis?.stop();
  });

  const envFor = (queueName: string, extra: Record<string, string> = {}) => ({
    CHABOK_BASE_URL: standIn.baseUrl,
    CHABOK_ACCESS_TOKEN: TOKEN,
    REDIS_PORT: String(redis.port),
    QUEUE_NAME: queueName,
    CONCURRENCY: String(CONCURRENCY),
    ...extra,
  });

  it('after a SIGKILL under load, a new process delivers every acknowledged event, with few duplicates', async () => {
    const queueName = `crash-${process.pid}-${Date.now()}`;
    const queue = inspect(redis, queueName);
    try {
      // A slow Chabok keeps the worker's jobs in flight, so the kill lands while it holds some.
      standIn.fault = () => ({ delayMs: 150 });
      const env = envFor(queueName, { LOCK_DURATION_MS: String(LOCK_DURATION_MS) });
      const first = await startChild(env);
      const paths = Array.from({ length: 3_000 }, (_, seq) => ({ port: first.port, path: `/events/${seq}` }));
      const sending = load(paths, 8, () => first.process.exitCode !== null || first.process.signalCode !== null);

      await waitUntil(() => first.acks.length >= 300, WAIT, '300 acknowledged events');
      await stopChild(first, 'SIGKILL');
      await sending;
      const acked = [...first.acks];
      const atKill = await queue.getJobCounts('wait', 'active', 'delayed', 'failed');
      const arrivedAtKill = new Set(acked.filter((seq) => arrivals.has(seq))).size;

      const restartedAt = Date.now();
      const second = await startChild(env);
      await standIn.waitFor(() => acked.every((seq) => arrivals.has(seq)), WAIT);
      const recoveredMs = Date.now() - restartedAt;
      await waitUntil(() => queueIsEmpty(queue), WAIT, 'the queue to drain');

      // Every acknowledged event arrived; nothing arrived that was never sent.
      expect(acked.filter((seq) => !arrivals.has(seq))).toEqual([]);
      expect([...arrivals.bySeq.keys()].filter((seq) => seq < 0 || seq >= paths.length)).toEqual([]);
      // The dead worker held jobs (so they came back through stall detection), and only those can repeat.
      expect(atKill.active).toBeGreaterThan(0);
      expect(arrivals.duplicates).toBeLessThanOrEqual(CONCURRENCY);
      const copies = [...arrivals.bySeq.values()];
      expect(Math.max(...copies.map((times) => times.length))).toBeLessThanOrEqual(2);
      // A repeated event is the same event: the eventTime captured at track(), not a new one.
      expect(copies.filter((times) => new Set(times).size !== 1)).toEqual([]);
      expect((await queue.getJobCounts('failed')).failed).toBe(0);

      console.log(
        `crash: ${acked.length} acknowledged before SIGKILL (${arrivedAtKill} of them delivered by then); ` +
          `at the kill Redis held ${atKill.active} active, ${atKill.wait} waiting, ${atKill.delayed} delayed; ` +
          `the new process delivered the rest in ${recoveredMs} ms (boot + ${LOCK_DURATION_MS} ms lock + stall check); ` +
          `${arrivals.bySeq.size} distinct events arrived, ${arrivals.duplicates} duplicate(s) (bound ${CONCURRENCY})`,
      );
      expect(await stopChild(second, 'SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      await queue.close();
    }
  });

  it('two processes sharing one queue deliver every event exactly once between them', async () => {
    const queueName = `shared-${process.pid}-${Date.now()}`;
    const queue = inspect(redis, queueName);
    try {
      standIn.fault = () => ({ delayMs: 20 });
      const apps = await Promise.all([startChild(envFor(queueName)), startChild(envFor(queueName))]);
      // Each process takes every other request; half are awaited track() calls, half @TrackEvent routes.
      const total = 600;
      const paths = Array.from({ length: total }, (_, seq) => ({
        port: apps[seq % 2]!.port,
        path: seq % 4 < 2 ? `/events/${seq}` : `/visits/${seq}`,
      }));
      const statuses = await load(paths, 8);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);

      await standIn.waitForEvents(total, WAIT);
      await waitUntil(() => queueIsEmpty(queue), WAIT, 'the queue to drain');
      expect(arrivals.bySeq.size).toBe(total);
      expect(arrivals.duplicates).toBe(0);

      for (const app of apps) expect(await stopChild(app, 'SIGTERM')).toEqual({ code: 0, signal: null });
      const stats = apps.map((app) => app.exitStats()!);
      // Each queued its own half, and both workers delivered part of the shared queue.
      expect(stats.map((s) => s.accepted)).toEqual([total / 2, total / 2]);
      expect(stats[0]!.delivered + stats[1]!.delivered).toBe(total);
      expect(stats.every((s) => s.delivered > 0 && s.failed === 0)).toBe(true);
      console.log(
        `shared queue: ${total} events, delivered ${stats[0]!.delivered} + ${stats[1]!.delivered}, ${arrivals.duplicates} duplicate(s)`,
      );
    } finally {
      await queue.close();
    }
  });

  it('with Redis gone, the app still answers, refuses events, and SIGTERM ends the process by itself', async () => {
    const ownRedis = await RedisServer.start();
    try {
      const child = await startChild({ ...envFor(`gone-${Date.now()}`), REDIS_PORT: String(ownRedis.port) });
      expect(await post(child.port, '/events/1', { agent })).toBe(200);
      await standIn.waitFor(() => arrivals.has(1), WAIT);

      await ownRedis.stop();
      expect(await post(child.port, '/events/2', { agent })).toBe(200);
      expect(child.nacks).toEqual([{ nack: 2, reason: 'unavailable' }]);

      const stoppingAt = Date.now();
      // Exit code 0 with the re-raised SIGTERM absorbed: no ioredis reconnect timer, socket or worker loop was left.
      expect(await stopChild(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
      expect(child.output()).not.toContain(TOKEN);
      console.log(`redis gone: SIGTERM to exit took ${Date.now() - stoppingAt} ms`);
    } finally {
      await ownRedis.stop();
    }
  });
});
