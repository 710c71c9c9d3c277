import type { ChabokViolation } from '../../errors/chabok.error.js';

// bullmq and ioredis are optional peers, so these public types are structural: an app
// that never uses durable mode typechecks without them installed.
/** ioredis connection options (`{ host, port, ... }`) or an ioredis instance. */
export type RedisConnection = object;
/** A BullMQ `Queue` instance. */
export interface BullQueueLike {
  readonly name: string;
  readonly opts: { connection?: unknown };
}

/**
 * `delivery: { mode: 'durable', ... }`: events are queued in Redis with BullMQ, so they
 * survive a crash of the app and are shared by every instance.
 *
 * @example
 * ChabokModule.forRoot({ appId: 'myapp', accessToken, delivery: { mode: 'durable', connection: { host: '127.0.0.1', port: 6379 } } })
 */
export interface DurableDeliveryOptions {
  mode: 'durable';
  /** ioredis options or an ioredis instance. Either this or `queue`. */
  connection?: RedisConnection;
  /** An existing BullMQ Queue (e.g. from @nestjs/bullmq's @InjectQueue). Its connection is reused. */
  queue?: BullQueueLike;
  /** Queue name. Default `chabok-events`. */
  queueName?: string;
  /** Redis key prefix. Default BullMQ's (`bull`). */
  prefix?: string;
  /**
   * `'both'` (default): this app queues events and delivers them. `'producer'`: only
   * queues (run workers elsewhere). `'worker'`: only delivers (a separate worker process).
   */
  role?: 'both' | 'producer' | 'worker';
  /** Jobs one worker holds at once; they are sent in batches of up to maxBatchSize. Default 1000. */
  concurrency?: number;
  /** When Redis is unreachable: `'reject'` (default) rejects track() with reason 'unavailable'; `'memory'` sends through the in-memory queue instead. */
  onRedisDown?: 'reject' | 'memory';
  /** Most events waiting in Redis; beyond it new events are dropped (reason 'dropped'). Default 100,000 (about 85 MB of Redis). */
  maxQueueLength?: number;
  /** Failed jobs kept in Redis for inspection (newest first). Default 10,000. */
  keepFailedJobs?: number;
  /** How often workers check for jobs of dead workers (BullMQ stalledInterval). Default 30,000 ms. */
  stalledIntervalMs?: number;
  /**
   * How long a worker's claim on a job lasts unless renewed (BullMQ lockDuration; a live
   * worker renews it every half of it). A dead worker's jobs are sent again about
   * lockDurationMs + stalledIntervalMs after it died. Keep it well above the longest event
   * loop stall of your app, or a live worker's jobs are taken for stalled and sent twice.
   * Default 30,000 ms.
   */
  lockDurationMs?: number;
}

export interface ResolvedDurableOptions {
  readonly queueName: string;
  readonly prefix?: string;
  readonly role: 'both' | 'producer' | 'worker';
  readonly concurrency: number;
  readonly onRedisDown: 'reject' | 'memory';
  readonly maxQueueLength: number;
  readonly jobOptions: Record<string, unknown>;
  readonly workerOptions: Record<string, unknown>;
  readonly connection?: RedisConnection;
  readonly queue?: BullQueueLike;
  /** The worker's connection: BullMQ needs maxRetriesPerRequest: null for blocking commands. */
  workerConnection(): RedisConnection;
}

const INTEGERS: Record<string, [number, number]> = {
  concurrency: [1, 10_000],
  maxQueueLength: [1, 1_000_000_000],
  keepFailedJobs: [0, 10_000_000],
  stalledIntervalMs: [100, 3_600_000],
  lockDurationMs: [1_000, 3_600_000],
};

/** Validates `delivery` options (field paths prefixed `delivery.`), and fills defaults. */
export function resolveDurableOptions(
  raw: DurableDeliveryOptions,
  violations: ChabokViolation[],
): ResolvedDurableOptions | undefined {
  const bad = (path: string, reason: string) => violations.push({ path: `delivery.${path}`, reason });
  const known = new Set([
    'mode',
    'connection',
    'queue',
    'queueName',
    'prefix',
    'role',
    'concurrency',
    'onRedisDown',
    'maxQueueLength',
    'keepFailedJobs',
    'stalledIntervalMs',
    'lockDurationMs',
  ]);
  for (const key of Object.keys(raw)) if (!known.has(key)) bad(key, 'is not a durable delivery option');
  if (!raw.connection === !raw.queue) bad('connection', 'give exactly one of connection or queue');
  const o = {
    queueName: 'chabok-events',
    role: 'both',
    concurrency: 1_000,
    onRedisDown: 'reject',
    maxQueueLength: 100_000,
    keepFailedJobs: 10_000,
    stalledIntervalMs: 30_000,
    lockDurationMs: 30_000,
    ...raw,
  };
  if (typeof o.queueName !== 'string' || !/^[\w.-]{1,100}$/.test(o.queueName))
    bad('queueName', 'must be 1-100 letters, digits, _ . -');
  if (!['both', 'producer', 'worker'].includes(o.role)) bad('role', "must be 'both', 'producer' or 'worker'");
  if (!['reject', 'memory'].includes(o.onRedisDown)) bad('onRedisDown', "must be 'reject' or 'memory'");
  for (const [key, [min, max]] of Object.entries(INTEGERS)) {
    const v = (o as Record<string, unknown>)[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      bad(key, `must be an integer from ${min} to ${max}`);
  }
  if (violations.some((v) => v.path.startsWith('delivery.'))) return undefined;
  const connection = o.connection;
  return {
    queueName: o.queueName,
    prefix: o.prefix,
    role: o.role as ResolvedDurableOptions['role'],
    concurrency: o.concurrency,
    onRedisDown: o.onRedisDown as ResolvedDurableOptions['onRedisDown'],
    maxQueueLength: o.maxQueueLength,
    connection,
    queue: o.queue,
    // The engine retries in-process; BullMQ attempts stay 1. Completed jobs leave Redis at
    // once; failed ones are kept (bounded) with Chabok's reason for inspection.
    jobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: { count: o.keepFailedJobs } },
    workerOptions: {
      concurrency: o.concurrency,
      prefix: o.prefix,
      stalledInterval: o.stalledIntervalMs,
      lockDuration: o.lockDurationMs,
      maxStalledCount: 1_000, // a job whose worker died is retried, not failed
      removeOnComplete: { count: 0 },
      removeOnFail: { count: o.keepFailedJobs },
    },
    workerConnection: () => {
      const base = (connection ?? o.queue!.opts.connection) as object;
      // An ioredis instance is shared as is (BullMQ duplicates it for blocking commands).
      return typeof (base as { duplicate?: unknown }).duplicate === 'function'
        ? base
        : { ...base, maxRetriesPerRequest: null };
    },
  };
}
