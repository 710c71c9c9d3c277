import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { CHABOK_OPTIONS, CHABOK_TRANSPORT } from '../chabok.constants.js';
import type { ResolvedChabokOptions } from '../config/resolved-options.js';
import { ChabokDeliveryError } from '../errors/chabok-delivery.error.js';
import type { ChabokEndpoint, WireEvent } from '../interfaces/chabok-event.interface.js';
import type { ChabokStats } from '../interfaces/chabok-stats.interface.js';
import type { ChabokTransport, EventDelivery, TransportOutcome } from '../interfaces/event-delivery.interface.js';
import { RateLimitedLogger } from '../logging/rate-limited-logger.js';
import { Deque } from './deque.js';
import { notifyOnError } from './notify-on-error.js';
import { backoffDelay, classify, parseRetryAfter } from './retry-policy.js';
import { EpochTracker } from './epoch-tracker.js';

/** One held event. Kept small: a backlog of 100k of these must stay well under 256 B each. */
interface QueuedEvent {
  /** The event's JSON, serialised once at enqueue; batches are built by joining these. */
  readonly json: string;
  /**
   * When it was queued, in ms since CLOCK_ORIGIN: a small integer (V8 Smi) that lives inside
   * the object, where an epoch-ms double would cost a separate 16-byte heap number.
   */
  readonly queuedMs: number;
  /** Flush generation (see EpochTracker). */
  readonly epoch: number;
  settle?: { resolve: () => void; reject: (e: ChabokDeliveryError) => void };
}

interface Batch {
  readonly endpoint: ChabokEndpoint;
  readonly items: QueuedEvent[];
  /** Sum of the events' JSON bytes (without the array's brackets and commas). */
  readonly bytes: number;
}

/** Per endpoint: fresh events, and batches formed earlier (retries, bisected halves). */
interface Lane {
  readonly endpoint: ChabokEndpoint;
  readonly fresh: Deque<QueuedEvent>;
  freshBytes: number;
  readonly formed: Deque<Batch>;
}

const ENDPOINTS: readonly ChabokEndpoint[] = [
  'installations/track',
  'installations/trackPurchase',
  'installations/trackRevenue',
];

/**
 * The in-memory delivery engine behind `EventTrackingService`:
 * - batches each endpoint's events into Chabok's array form (maxBatchSize / maxBatchBytes /
 *   flushIntervalMs), with at most maxConcurrentRequests in flight;
 * - retries transient failures with full-jitter backoff, honouring Retry-After; while
 *   failing, the whole pipeline pauses and sends one probe request at a time;
 * - bisects a batch Chabok refused (400) so only the offending events fail;
 * - bounds what it holds by count and bytes, with a drop policy;
 * - drains on shutdown within a budget and reports what it could not deliver.
 */
@Injectable()
export class BatchingDelivery implements EventDelivery, OnApplicationShutdown {
  private readonly log = new RateLimitedLogger();
  private readonly lanes: Lane[] = ENDPOINTS.map((endpoint) => ({
    endpoint,
    fresh: new Deque(),
    freshBytes: 0,
    formed: new Deque(),
  }));
  private readonly epochs = new EpochTracker();
  private readonly abort = new AbortController();
  private readonly sending = new Set<Promise<void>>();

  private held = 0;
  private heldBytes = 0;
  private inFlightRequests = 0;
  private inFlightEvents = 0;
  private inFlightBytes = 0;
  /** Consecutive transient failures; > 0 means "probe mode": one request at a time. */
  private failures = 0;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private nextLane = 0;
  private closing = false;
  private closed = false;
  private reportedUnauthorized = false;

  private readonly counters = { accepted: 0, delivered: 0, retried: 0, failed: 0, dropped: 0, batchesSent: 0 };
  private lastDeliveryAt: number | null = null;
  private lastError: ChabokStats['lastError'] = null;

  constructor(
    @Inject(CHABOK_OPTIONS) private readonly options: ResolvedChabokOptions,
    @Inject(CHABOK_TRANSPORT) private readonly transport: ChabokTransport,
  ) {}

  enqueue(endpoint: ChabokEndpoint, event: WireEvent, settle: boolean): Promise<void> | undefined {
    const json = JSON.stringify(event);
    const bytes = Buffer.byteLength(json);
    const queuedMs = Date.now() - CLOCK_ORIGIN;
    const epoch = this.epochs.current;
    // Two shapes: the fire-and-forget item has no settle slot at all; the awaited one has it
    // from the start, so assigning it below needs no out-of-object property store.
    const item: QueuedEvent = settle ? { json, queuedMs, epoch, settle: undefined } : { json, queuedMs, epoch };
    const promise = settle
      ? new Promise<void>((resolve, reject) => {
          item.settle = { resolve, reject };
        })
      : undefined;
    // Fire-and-forget callers must never see an unhandled rejection; awaiting callers still get it.
    promise?.catch(ignoreRejection);
    // Every valid event handed in is counted, whatever becomes of it, so that once idle
    // accepted = delivered + failed + dropped (drop-newest and post-shutdown included).
    this.counters.accepted++;

    if (this.closed) {
      // Not held, so only reported: counted as failed, never queued.
      this.counters.failed++;
      this.report(endpoint, [item], new ChabokDeliveryError('shutdown', 'tracked after the application shut down'));
      return promise;
    }
    if (!this.makeRoom(bytes)) {
      this.drop(endpoint, [item]);
      return promise;
    }
    const lane = this.lane(endpoint);
    lane.fresh.push(item);
    lane.freshBytes += bytes;
    this.held++;
    this.heldBytes += bytes;
    this.epochs.add(item.epoch);

    if (this.isFull(lane) || this.closing || this.epochs.flushPending) this.pump();
    else this.arm(enqueuedAt(item) + this.options.flushIntervalMs);
    return promise;
  }

  flush(): Promise<void> {
    const done = this.epochs.flush();
    this.pump();
    return done;
  }

  stats(): ChabokStats {
    let oldest: number | null = null;
    for (const lane of this.lanes) {
      const head = lane.formed.peek()?.items[0] ?? lane.fresh.peek();
      if (head && (oldest === null || enqueuedAt(head) < oldest)) oldest = enqueuedAt(head);
    }
    return {
      ...this.counters,
      queued: this.held - this.inFlightEvents,
      queuedBytes: this.heldBytes - this.inFlightBytes,
      inFlight: this.inFlightEvents,
      paused: this.failures > 0,
      lastDeliveryAt: this.lastDeliveryAt,
      oldestQueuedAt: oldest,
      lastError: this.lastError,
    };
  }

  /**
   * Drains within `shutdownTimeoutMs`. Runs in onApplicationShutdown, after Nest has closed
   * the HTTP server, so events tracked by the last requests are drained too.
   */
  async onApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    const deadline = Date.now() + this.options.shutdownTimeoutMs;
    while (this.held > 0 && Date.now() < deadline) {
      // unref: the wait never keeps the process alive on its own
      await Promise.race([this.flush(), sleep(Math.max(0, deadline - Date.now()), undefined, { ref: false })]);
    }
    this.closed = true;
    this.clearTimer();
    if (this.held > 0) {
      const lost = this.held;
      this.abort.abort(); // in-flight requests come back as network errors and fail as 'shutdown'
      for (const lane of this.lanes) {
        const error = new ChabokDeliveryError(
          'shutdown',
          `not delivered within shutdownTimeoutMs (${this.options.shutdownTimeoutMs} ms)`,
        );
        for (const batch of lane.formed.drain()) this.fail(lane.endpoint, batch.items, error, false);
        lane.freshBytes = 0;
        this.fail(lane.endpoint, lane.fresh.drain(), error, false);
      }
      await Promise.allSettled(this.sending); // aborted requests settle as 'shutdown' in retryLater
      this.log.error(
        'shutdown',
        `Shutdown: ${lost} event(s) could not be delivered within ${this.options.shutdownTimeoutMs} ms (${this.lastError?.message ?? 'Chabok did not answer in time'})`,
      );
    }
    this.transport.close?.();
  }

  // --- scheduling ---------------------------------------------------------------------

  private lane(endpoint: ChabokEndpoint): Lane {
    return this.lanes[ENDPOINTS.indexOf(endpoint)]!;
  }

  private isFull(lane: Lane): boolean {
    return lane.fresh.length >= this.options.maxBatchSize || lane.freshBytes >= this.options.maxBatchBytes;
  }

  /** How many requests may be in flight now: none while paused, one while probing. */
  private concurrency(now: number): number {
    if (now < this.pausedUntil) return 0;
    return this.failures > 0 ? 1 : this.options.maxConcurrentRequests;
  }

  /** Sends every batch that is ready, up to the concurrency limit, then re-arms the timer. */
  private pump(): void {
    const now = Date.now();
    const force = this.closing || this.epochs.flushPending;
    while (this.inFlightRequests < this.concurrency(now)) {
      const batch = this.takeBatch(now, force);
      if (!batch) break;
      const sending = this.send(batch);
      this.sending.add(sending);
      void sending.finally(() => this.sending.delete(sending));
    }
    this.armForNextWork(now);
  }

  /** The next batch to send, taking lanes in turn so one endpoint cannot starve the others. */
  private takeBatch(now: number, force: boolean): Batch | undefined {
    for (let n = 0; n < this.lanes.length; n++) {
      const index = (this.nextLane + n) % this.lanes.length;
      const lane = this.lanes[index]!;
      let batch: Batch | undefined;
      // Expired events are failed on the way; keep taking from this lane until a live batch or none.
      while ((batch = lane.formed.shift() ?? (this.isReady(lane, now, force) ? this.cut(lane) : undefined))) {
        const live = this.withoutExpired(batch, now);
        if (live) {
          this.nextLane = (index + 1) % this.lanes.length;
          return live;
        }
      }
    }
    return undefined;
  }

  private isReady(lane: Lane, now: number, force: boolean): boolean {
    const head = lane.fresh.peek();
    return !!head && (force || this.isFull(lane) || now - enqueuedAt(head) >= this.options.flushIntervalMs);
  }

  /** Takes fresh events up to maxBatchSize and maxBatchBytes (always at least one). */
  private cut(lane: Lane): Batch {
    const items: QueuedEvent[] = [];
    let bytes = 0;
    while (items.length < this.options.maxBatchSize) {
      const head = lane.fresh.peek();
      if (!head) break;
      const size = sizeOf(head);
      // body size = events + commas + brackets
      if (items.length > 0 && bytes + size + items.length + 2 > this.options.maxBatchBytes) break;
      lane.fresh.shift();
      lane.freshBytes -= size;
      items.push(head);
      bytes += size;
    }
    return { endpoint: lane.endpoint, items, bytes };
  }

  private withoutExpired(batch: Batch, now: number): Batch | undefined {
    const limit = now - this.options.deliveryDeadlineMs;
    if (batch.items.every((i) => enqueuedAt(i) > limit)) return batch;
    const [expired, live] = partition(batch.items, (i) => enqueuedAt(i) <= limit);
    this.fail(
      batch.endpoint,
      expired,
      new ChabokDeliveryError(
        'expired',
        `not delivered within deliveryDeadlineMs (last error: ${this.lastError?.message ?? 'none'})`,
      ),
    );
    return live.length ? makeBatch(batch.endpoint, live) : undefined;
  }

  /** One timer for the whole pipeline: the next flush deadline or the end of a pause. */
  private armForNextWork(now: number): void {
    if (this.closed) return;
    let at = Infinity;
    if (now < this.pausedUntil) at = this.pausedUntil;
    else if (this.inFlightRequests < this.concurrency(now)) {
      for (const lane of this.lanes) {
        const head = lane.fresh.peek();
        if (head) at = Math.min(at, enqueuedAt(head) + this.options.flushIntervalMs);
      }
    }
    if (at !== Infinity) this.arm(at);
  }

  private arm(at: number): void {
    if (this.closed || at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    // unref: a pending flush never keeps the process alive on its own.
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.pump();
      },
      Math.max(0, at - Date.now()),
    ).unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  // --- sending and outcomes -----------------------------------------------------------

  private async send(batch: Batch): Promise<void> {
    const { items } = batch;
    const body = items.length === 1 ? items[0]!.json : `[${items.map((i) => i.json).join(',')}]`;
    this.inFlightRequests++;
    this.inFlightEvents += items.length;
    this.inFlightBytes += batch.bytes;
    this.counters.batchesSent++;
    let outcome: TransportOutcome;
    try {
      outcome = await this.transport.send(batch.endpoint, body, this.abort.signal);
    } catch (error) {
      outcome = { kind: 'network', code: 'ERR_TRANSPORT', message: String(error) };
    }
    this.inFlightRequests--;
    this.inFlightEvents -= items.length;
    this.inFlightBytes -= batch.bytes;
    this.handle(batch, outcome);
    this.pump();
  }

  private handle(batch: Batch, outcome: TransportOutcome): void {
    const verdict = classify(outcome);
    const status = outcome.kind === 'response' ? outcome.status : undefined;
    const answer = outcome.kind === 'response' ? outcome.body : undefined;
    if (verdict !== 'delivered') {
      const message =
        outcome.kind === 'response' ? `Chabok answered ${outcome.status}` : `${outcome.code}: ${outcome.message}`;
      this.lastError = { message, status, at: Date.now() };
    }
    switch (verdict) {
      case 'delivered':
        this.failures = 0;
        this.lastDeliveryAt = Date.now();
        this.counters.delivered += batch.items.length;
        this.release(batch.items);
        for (const item of batch.items) item.settle?.resolve();
        return;
      case 'retry':
        return this.retryLater(batch, outcome);
      case 'split':
        this.failures = 0; // Chabok is up and answering
        if (batch.items.length === 1)
          return this.fail(
            batch.endpoint,
            batch.items,
            new ChabokDeliveryError('rejected', `Chabok refused the event (${status})`, status, answer),
          );
        {
          const half = Math.ceil(batch.items.length / 2);
          const lane = this.lane(batch.endpoint);
          lane.formed.unshiftAll([
            makeBatch(batch.endpoint, batch.items.slice(0, half)),
            makeBatch(batch.endpoint, batch.items.slice(half)),
          ]);
        }
        return;
      case 'unauthorized':
        if (!this.reportedUnauthorized) {
          this.reportedUnauthorized = true;
          this.log.error(
            'unauthorized',
            `Chabok answered ${status}: check accessToken and appId/baseUrl. Events are not being delivered.`,
          );
        }
        return this.fail(
          batch.endpoint,
          batch.items,
          new ChabokDeliveryError(
            'unauthorized',
            `Chabok answered ${status}: the access token or app id is not accepted`,
            status,
            answer,
          ),
          false,
        );
      case 'reject':
        return this.fail(
          batch.endpoint,
          batch.items,
          new ChabokDeliveryError('rejected', `Chabok refused the request (${status})`, status, answer),
        );
    }
  }

  private retryLater(batch: Batch, outcome: TransportOutcome): void {
    if (this.closed)
      return this.fail(
        batch.endpoint,
        batch.items,
        new ChabokDeliveryError('shutdown', `not delivered before shutdown (last error: ${this.lastError?.message})`),
        false,
      );
    const now = Date.now();
    this.failures++;
    const retryAfter = outcome.kind === 'response' ? parseRetryAfter(outcome.retryAfter, now) : undefined;
    const delay = Math.min(
      retryAfter ?? backoffDelay(this.failures - 1, this.options.retryBaseDelayMs, this.options.retryMaxDelayMs),
      this.options.retryMaxDelayMs,
    );
    this.pausedUntil = Math.max(this.pausedUntil, now + delay);
    this.counters.retried += batch.items.length;
    this.lane(batch.endpoint).formed.unshiftAll([batch]);
    this.log.warn(
      'transient',
      `Chabok delivery failed (${this.lastError?.message}); ${this.held} event(s) held, retrying in ${delay} ms`,
    );
  }

  // --- bookkeeping --------------------------------------------------------------------

  /** Frees room for a new event, by the overflow policy. False means: drop the new one. */
  private makeRoom(bytes: number): boolean {
    const fits = () =>
      this.held + 1 <= this.options.maxQueueSize && this.heldBytes + bytes <= this.options.maxQueueBytes;
    if (fits()) return true;
    if (this.options.overflow === 'drop-newest') return false;
    while (!fits()) {
      const victim = this.evictOldest();
      if (!victim) return false; // everything held is in flight
      this.drop(victim.endpoint, [victim.item], true);
    }
    return true;
  }

  /**
   * The oldest event not in flight: the head of a lane's formed batches (those waiting for a
   * retry were tracked first) or of its fresh events, whichever was tracked earlier.
   */
  private evictOldest(): { endpoint: ChabokEndpoint; item: QueuedEvent } | undefined {
    let best: { lane: Lane; formed: boolean; at: number } | undefined;
    for (const lane of this.lanes) {
      const formedAt = enqueuedAtOf(lane.formed.peek()?.items[0]);
      if (formedAt !== undefined && (!best || formedAt < best.at)) best = { lane, formed: true, at: formedAt };
      const freshAt = enqueuedAtOf(lane.fresh.peek());
      if (freshAt !== undefined && (!best || freshAt < best.at)) best = { lane, formed: false, at: freshAt };
    }
    if (!best) return undefined; // everything held is in flight
    const { lane } = best;
    if (!best.formed) {
      const item = lane.fresh.shift()!;
      lane.freshBytes -= sizeOf(item);
      return { endpoint: lane.endpoint, item };
    }
    const [item, ...rest] = lane.formed.shift()!.items;
    if (rest.length) lane.formed.unshiftAll([makeBatch(lane.endpoint, rest)]);
    return { endpoint: lane.endpoint, item: item! };
  }

  private drop(endpoint: ChabokEndpoint, items: QueuedEvent[], wasHeld = false): void {
    this.counters.dropped += items.length;
    if (wasHeld) this.release(items);
    this.report(
      endpoint,
      items,
      new ChabokDeliveryError(
        'dropped',
        `queue full (maxQueueSize ${this.options.maxQueueSize}, maxQueueBytes ${this.options.maxQueueBytes}, overflow ${this.options.overflow})`,
      ),
    );
    this.log.warn(
      'dropped',
      `Chabok queue is full: dropped ${items.length} event(s) (${this.counters.dropped} in all, overflow: ${this.options.overflow})`,
    );
  }

  /** Settles held events as finally failed: counted, reported, released. */
  private fail(endpoint: ChabokEndpoint, items: QueuedEvent[], error: ChabokDeliveryError, logIt = true): void {
    if (items.length === 0) return;
    this.counters.failed += items.length;
    this.release(items);
    this.report(endpoint, items, error);
    if (logIt) {
      const answer = error.responseBody ? `: ${error.responseBody.slice(0, 200)}` : '';
      this.log.warn(error.reason, `${items.length} Chabok event(s) failed: ${error.message}${answer}`);
    }
  }

  private release(items: QueuedEvent[]): void {
    for (const item of items) {
      this.held--;
      this.heldBytes -= sizeOf(item);
      this.epochs.settle(item.epoch);
    }
  }

  private report(endpoint: ChabokEndpoint, items: QueuedEvent[], error: ChabokDeliveryError): void {
    for (const item of items) item.settle?.reject(error);
    // The events are parsed back from their JSON only when a hook wants them.
    const failure = () => ({ endpoint, error, events: items.map((i) => JSON.parse(i.json) as WireEvent) });
    notifyOnError(this.options.onError, failure, this.log);
  }
}

/**
 * Marks a per-event promise as handled. One shared function rather than an arrow per call:
 * a closure per held event costs ~100 bytes of a backlog (measured in bench/queue-memory).
 */
function ignoreRejection(): undefined {
  return undefined;
}

/** Fixed at load: the zero of QueuedEvent.queuedMs (never changes, so no shared mutable state). */
const CLOCK_ORIGIN = Date.now();

/**
 * UTF-8 size of an event's JSON. Computed when needed (a fast native call) rather than
 * stored: one field less on each of up to maxQueueSize held events.
 */
function sizeOf(item: QueuedEvent): number {
  return Buffer.byteLength(item.json);
}

/** Epoch ms at which an event was queued. */
function enqueuedAt(item: QueuedEvent): number {
  return CLOCK_ORIGIN + item.queuedMs;
}

function enqueuedAtOf(item: QueuedEvent | undefined): number | undefined {
  return item && enqueuedAt(item);
}

function makeBatch(endpoint: ChabokEndpoint, items: QueuedEvent[]): Batch {
  return { endpoint, items, bytes: items.reduce((sum, i) => sum + sizeOf(i), 0) };
}

function partition<T>(items: T[], pred: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (pred(item) ? yes : no).push(item);
  return [yes, no];
}
