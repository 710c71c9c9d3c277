import type { OnApplicationShutdown } from '@nestjs/common';
import type { Job, JobsOptions, Queue, Worker, WorkerOptions } from 'bullmq';
import type { ResolvedChabokOptions } from '../../config/resolved-options.js';
import { ChabokDeliveryError } from '../../errors/chabok-delivery.error.js';
import type { ChabokEndpoint, WireEvent } from '../../interfaces/chabok-event.interface.js';
import type { ChabokStats } from '../../interfaces/chabok-stats.interface.js';
import type { ChabokTransport, EventDelivery } from '../../interfaces/event-delivery.interface.js';
import { RateLimitedLogger } from '../../logging/rate-limited-logger.js';
import type { BatchingDelivery } from '../batching-delivery.js';
import { notifyOnError } from '../notify-on-error.js';
import type { ResolvedDurableOptions } from './durable-options.js';

/** What a job carries: the validated event and where it goes. Never the token. */
export interface ChabokJobData {
  endpoint: ChabokEndpoint;
  event: WireEvent;
}

type BullMq = typeof import('bullmq');

/** How often queue counts are read from Redis for stats(), health and the length bound. */
const COUNT_POLL_MS = 1_000;
/**
 * At shutdown, how long the worker may take, after the engine's drain, to hand its last jobs
 * back to Redis (completed, or moved back to delayed). Past it, or at once when Redis is
 * down, its connections are dropped: jobs it still held come back by stall detection.
 */
const WORKER_CLOSE_GRACE_MS = 2_000;
/** Bound on each remaining step of closing a connection (QUIT, disconnect). */
const CLOSE_STEP_MS = 1_000;

/**
 * Durable delivery on BullMQ. Producers add one job per event (grouped into one addBulk per
 * tick); `track()` resolves once Redis acknowledged the job. Workers hand jobs to the same
 * in-memory engine as the default mode (batching, retries, Retry-After, bisection), and a
 * job completes only when Chabok accepted its event. A worker that dies leaves its active
 * jobs to BullMQ's stall detection, so another worker sends them again: at-least-once.
 */
export class DurableDelivery implements EventDelivery, OnApplicationShutdown {
  private readonly log = new RateLimitedLogger();
  private worker: Worker<ChabokJobData> | undefined;
  private pending: { data: ChabokJobData; settle?: { resolve: () => void; reject: (e: unknown) => void } }[] = [];
  private addScheduled = false;
  private readonly adding = new Set<Promise<void>>();
  /** Jobs sent to Redis whose addBulk has not answered yet (counted against maxQueueLength). */
  private addingJobs = 0;
  private counts = { waiting: 0, active: 0, delayed: 0, failed: 0 };
  private redisUp = true;
  /**
   * Whether the producer connection was ever ready. Until then BullMQ holds commands until
   * Redis appears (track() would hang), so events are treated as "Redis down" instead.
   */
  private connected = false;
  /** Whether the worker's connections were ever ready (see onApplicationShutdown). */
  private workerReady = false;
  private poll: NodeJS.Timeout | undefined;
  private accepted = 0;
  private droppedHere = 0;
  private fallbacks = 0;
  private unavailable = 0;
  /** Jobs this worker found older than deliveryDeadlineMs (never handed to the engine). */
  private expired = 0;
  private closed = false;

  constructor(
    private readonly options: ResolvedChabokOptions,
    private readonly durable: ResolvedDurableOptions,
    private readonly queue: Queue<ChabokJobData>,
    /** The in-memory engine the workers send through (its 'shutdown' failures are not losses: those jobs go back to Redis). */
    private readonly engine: BatchingDelivery,
    /** The in-memory engine that takes events while Redis is down (onRedisDown: 'memory'). */
    private readonly fallback: BatchingDelivery,
    private readonly bullmq: BullMq,
    private readonly ownsQueue: boolean,
    /** Shared by both engines, closed once both have drained. */
    private readonly transport: ChabokTransport,
    /** Whether the queue's connection was ready when boot stopped waiting for it. */
    ready: boolean,
  ) {
    this.connected = ready;
    queue.on('error', (error) => this.redisError('queue', error));
    queue.waitUntilReady().then(
      () => (this.connected = true),
      (error: unknown) => this.redisError('queue', error),
    );
    if (durable.role !== 'producer') this.startWorker();
    void this.refreshCounts();
    this.poll = setInterval(() => void this.refreshCounts(), COUNT_POLL_MS).unref();
  }

  enqueue(endpoint: ChabokEndpoint, event: WireEvent, settle: boolean): Promise<void> | undefined {
    let promise: Promise<void> | undefined;
    const item: (typeof this.pending)[number] = { data: { endpoint, event } };
    if (settle) {
      promise = new Promise<void>((resolve, reject) => (item.settle = { resolve, reject }));
      promise.catch(() => undefined); // fire-and-forget callers never see an unhandled rejection
    }
    if (this.closed) {
      item.settle?.reject(new ChabokDeliveryError('shutdown', 'tracked after the application shut down'));
      return promise;
    }
    if (
      this.counts.waiting + this.counts.delayed + this.addingJobs + this.pending.length >=
      this.durable.maxQueueLength
    ) {
      this.droppedHere++;
      const error = new ChabokDeliveryError(
        'dropped',
        `durable queue holds ${this.durable.maxQueueLength} events (maxQueueLength)`,
      );
      this.report(endpoint, [event], error);
      item.settle?.reject(error);
      return promise;
    }
    this.pending.push(item);
    if (!this.addScheduled) {
      this.addScheduled = true;
      setImmediate(() => this.addPending());
    }
    return promise;
  }

  async flush(): Promise<void> {
    this.addPending();
    await Promise.allSettled([...this.adding]);
    await Promise.all([this.durable.role !== 'producer' ? this.engine.flush() : undefined, this.fallback.flush()]);
  }

  /**
   * Counters of this process: `accepted` counts events this process queued in Redis (or
   * handed to the fallback); delivery counters are those of this process's workers and
   * fallback. `durable` holds the shared queue's counts.
   */
  stats(): ChabokStats {
    const worker = this.engine.stats();
    const fallback = this.fallback.stats();
    const sum = (
      key: 'delivered' | 'retried' | 'failed' | 'dropped' | 'queued' | 'queuedBytes' | 'inFlight' | 'batchesSent',
    ) => worker[key] + fallback[key];
    const latest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
    const oldest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
    return {
      accepted: this.accepted + fallback.accepted,
      delivered: sum('delivered'),
      retried: sum('retried'),
      failed: sum('failed') + this.unavailable + this.expired,
      dropped: sum('dropped') + this.droppedHere,
      queued: sum('queued') + this.pending.length,
      queuedBytes: sum('queuedBytes'),
      inFlight: sum('inFlight'),
      batchesSent: sum('batchesSent'),
      paused: worker.paused || fallback.paused,
      lastDeliveryAt: latest(worker.lastDeliveryAt, fallback.lastDeliveryAt),
      oldestQueuedAt: oldest(worker.oldestQueuedAt, fallback.oldestQueuedAt),
      lastError: worker.lastError ?? fallback.lastError,
      durable: { ...this.counts, redisUp: this.redisUp, fallbacks: this.fallbacks, unavailable: this.unavailable },
    };
  }

  /**
   * Bounded whether or not Redis and Chabok answer: events tracked so far are queued in
   * Redis, the worker stops taking jobs, the engine delivers what it holds within
   * shutdownTimeoutMs and the rest goes back to Redis (see process()); then every Redis
   * connection this module opened is closed, or dropped if Redis does not answer, so that
   * nothing (no ioredis reconnect timer) keeps the process alive.
   */
  async onApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.addPending();
    await within(Promise.allSettled([...this.adding]), this.options.shutdownTimeoutMs);
    this.closed = true;
    clearInterval(this.poll);
    const worker = this.worker;
    // Stop taking jobs. While Redis answers, gracefully: held jobs are finished or handed
    // back. When it does not, BullMQ would wait for it forever (and a worker that never
    // connected cannot even be disconnected later), so its connections are dropped now.
    const force = !(this.redisUp && this.workerReady);
    const closingWorker = worker?.close(force).catch((error: unknown) => this.redisError('worker', error));
    await Promise.all([this.engine.onApplicationShutdown(), this.fallback.onApplicationShutdown()]);
    this.transport.close?.();
    if (worker && !(await within(closingWorker!, WORKER_CLOSE_GRACE_MS))) {
      // Redis stopped answering during the drain: drop the connections.
      await within(
        worker.disconnect().catch(() => undefined),
        CLOSE_STEP_MS,
      );
      await within(closingWorker!, CLOSE_STEP_MS);
    }
    if (this.ownsQueue) {
      // QUIT fails at once when the producer connection is down; then drop it (stops reconnecting).
      const quit = this.queue.close().then(
        () => true,
        () => false,
      );
      if (!(await within(quit, CLOSE_STEP_MS)) || !(await quit))
        await within(
          this.queue.disconnect().catch(() => undefined),
          CLOSE_STEP_MS,
        );
    }
  }

  // --- producing ----------------------------------------------------------------------

  /** One addBulk per tick: one Redis round trip for everything tracked in it. */
  private addPending(): void {
    this.addScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (!this.connected) return this.redisDown(batch, new Error('not connected to Redis yet'));
    this.addingJobs += batch.length;
    const adding = this.queue
      .addBulk(
        batch.map((p) => ({ name: p.data.endpoint, data: p.data, opts: this.durable.jobOptions as JobsOptions })),
      )
      .then(
        () => {
          this.redisUp = true;
          this.accepted += batch.length;
          // Until the next poll: answers on this connection come in order, so a poll sent
          // before this addBulk did not count these jobs, and one sent after will.
          this.counts.waiting += batch.length;
          for (const p of batch) p.settle?.resolve();
        },
        (error: unknown) => this.redisDown(batch, error),
      )
      .finally(() => (this.addingJobs -= batch.length));
    this.adding.add(adding);
    void adding.finally(() => this.adding.delete(adding));
  }

  /** Redis refused or is unreachable: reject, or fall back to in-memory delivery. */
  private redisDown(batch: typeof this.pending, error: unknown): void {
    this.redisUp = false;
    const reason = error instanceof Error ? error.message : String(error);
    if (this.durable.onRedisDown === 'memory') {
      this.fallbacks += batch.length;
      this.log.warn(
        'redis-fallback',
        `Redis unavailable (${reason}); ${batch.length} event(s) sent through the in-memory queue instead`,
      );
      for (const p of batch) {
        const delivered = this.fallback.enqueue(p.data.endpoint, p.data.event, p.settle !== undefined);
        if (p.settle && delivered) delivered.then(p.settle.resolve, p.settle.reject);
      }
      return;
    }
    this.unavailable += batch.length;
    const failure = new ChabokDeliveryError('unavailable', `Redis unavailable, event not queued: ${reason}`);
    this.log.error(
      'redis-down',
      `Redis unavailable (${reason}); ${batch.length} event(s) refused (onRedisDown: 'reject')`,
    );
    for (const p of batch) p.settle?.reject(failure);
    for (const p of batch) this.report(p.data.endpoint, [p.data.event], failure);
  }

  // --- consuming ----------------------------------------------------------------------

  private startWorker(): void {
    const { Worker } = this.bullmq;
    this.worker = new Worker<ChabokJobData>(this.queue.name, (job, token) => this.process(job, token), {
      ...(this.durable.workerOptions as unknown as WorkerOptions),
      // A given Queue may have its own prefix: the worker must read the same keys.
      prefix: this.durable.prefix ?? (this.queue.opts as { prefix?: string }).prefix,
      connection: this.durable.workerConnection() as WorkerOptions['connection'],
    });
    this.worker.on('error', (error) => this.redisError('worker', error));
    this.worker.waitUntilReady().then(
      () => (this.workerReady = true),
      () => undefined, // reported through 'error'
    );
  }

  /**
   * Sends one job's event through the engine; resolves when Chabok accepted it. Permanent
   * failures fail the job (UnrecoverableError: the engine already retried), with Chabok's
   * reason as failedReason. An event not delivered before shutdown goes back to the queue.
   */
  private async process(job: Job<ChabokJobData>, token?: string): Promise<void> {
    const { endpoint, event } = job.data;
    if (Date.now() - job.timestamp > this.options.deliveryDeadlineMs) {
      const error = new ChabokDeliveryError(
        'expired',
        `not delivered within deliveryDeadlineMs (${this.options.deliveryDeadlineMs} ms)`,
      );
      this.expired++;
      this.report(endpoint, [event], error); // like every other final failure
      throw new this.bullmq.UnrecoverableError(`expired: ${error.message}`);
    }
    try {
      // deliveryDeadlineMs is checked above from the job's queue time, then again by the
      // engine from now: an event is retried for at most twice the deadline in all.
      await this.engine.enqueue(endpoint, event, true);
    } catch (error) {
      if (error instanceof ChabokDeliveryError && error.reason === 'shutdown') {
        await job.moveToDelayed(Date.now(), token);
        throw new this.bullmq.DelayedError();
      }
      const reason =
        error instanceof ChabokDeliveryError
          ? `${error.reason}: ${error.message}${error.responseBody ? ` ${error.responseBody}` : ''}`
          : String(error);
      throw new this.bullmq.UnrecoverableError(reason);
    }
  }

  // --- bookkeeping --------------------------------------------------------------------

  private async refreshCounts(): Promise<void> {
    if (!this.connected) {
      this.redisUp = false; // and no command is sent: it would wait for Redis to appear
      return;
    }
    try {
      const c = await this.queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed');
      this.counts = {
        waiting: (c.wait ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
      };
      this.redisUp = true;
    } catch (error) {
      this.redisUp = false;
      this.redisError('counts', error);
    }
  }

  private redisError(source: string, error: unknown): void {
    this.log.warn(`redis-${source}`, `Redis (${source}): ${error instanceof Error ? error.message : String(error)}`);
  }

  private report(endpoint: ChabokEndpoint, events: WireEvent[], error: ChabokDeliveryError): void {
    notifyOnError(this.options.onError, () => ({ endpoint, error, events }), this.log);
  }
}

/** Whether `promise` settled within `ms` (it is not cancelled either way). */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}
