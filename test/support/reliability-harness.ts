/**
 * Shared pieces of the reliability suite: a Nest application context with ChabokModule
 * pointed at a local ChabokStandIn (short timings), a ledger of numbered events tracked
 * through the public EventTrackingService, and `analyse()`, which compares what arrived at
 * the stand-in with what was tracked (losses, duplicates, moved eventTimes).
 */
import { Test, type TestingModule } from '@nestjs/testing';
import { RecordingLogger as CapturingLogger } from './recording-logger.js';
import {
  ChabokModule,
  EventTrackingService,
  type ChabokFailure,
  type ChabokModuleOptions,
  type ChabokStats,
} from '../../src/index.js';
import {
  ChabokStandIn,
  type FaultHandler,
  type RecordedRequest,
  type StandInEndpoint,
} from '../../stand-in/chabok-stand-in.js';

/** A token that is easy to spot if it ever leaks into logs, errors or stats. */
export const SECRET_TOKEN = 'tok-RELIABILITY-s3cr3t-9f2c71e4';

/**
 * Short timings, so every fault resolves in well under a second. timeoutMs is the one
 * exception: the stand-in answers in about a millisecond, but on a 2-core machine shared
 * with other suites this process can stall for a few hundred; a request Chabok accepted and
 * the client then timed out is sent again (at-least-once), which would show up as a
 * duplicate the fault under test did not cause. The timeout case sets its own, shorter one.
 */
export const FAST_TIMINGS = {
  flushIntervalMs: 5,
  retryBaseDelayMs: 10,
  retryMaxDelayMs: 200,
  timeoutMs: 2_000,
  shutdownTimeoutMs: 1_000,
} as const satisfies Partial<ChabokModuleOptions>;

/** Explicit eventTimes are this plus the event's seq: clearly in the past, clearly distinct. */
const EXPLICIT_TIME_BASE = Date.UTC(2024, 0, 1);

export function startStandIn(): Promise<ChabokStandIn> {
  return ChabokStandIn.start({ accessToken: SECRET_TOKEN });
}

// --- the app ------------------------------------------------------------------------

export { RecordingLogger as CapturingLogger, type LogLine } from './recording-logger.js';

export interface ReliabilityApp {
  readonly moduleRef: TestingModule;
  readonly tracking: EventTrackingService;
  /** Every failure the onError hook received, in order. */
  readonly failures: ChabokFailure[];
  readonly logger: CapturingLogger;
  /** Closes the context (runs the shutdown drain); safe to call twice. */
  close(): Promise<void>;
}

/**
 * A user's app: an application context importing ChabokModule.forRoot, aimed at the
 * stand-in, with short timings and an onError hook that records every failure.
 */
export async function startApp(
  standIn: ChabokStandIn,
  options: Partial<ChabokModuleOptions> = {},
): Promise<ReliabilityApp> {
  const failures: ChabokFailure[] = [];
  const logger = new CapturingLogger();
  const moduleRef = await Test.createTestingModule({
    imports: [
      ChabokModule.forRoot({
        baseUrl: standIn.baseUrl,
        accessToken: standIn.accessToken,
        ...FAST_TIMINGS,
        ...options,
        onError: (failure) => failures.push(failure),
      }),
    ],
  })
    .setLogger(logger)
    .compile();
  await moduleRef.init();
  let closed: Promise<void> | undefined;
  return {
    moduleRef,
    tracking: moduleRef.get(EventTrackingService),
    failures,
    logger,
    close: () => (closed ??= moduleRef.close()),
  };
}

/**
 * Runs one event end to end, so the first request of a test file does not pay for loading
 * and compiling the HTTP stack (which can exceed a 300 ms timeoutMs on its own).
 */
export async function warmUp(standIn: ChabokStandIn): Promise<void> {
  const app = await startApp(standIn, { timeoutMs: 10_000 });
  await app.tracking.track({ userId: 'warm-up', eventName: 'warmUp' });
  await app.close();
  standIn.reset();
}

// --- tracked events -----------------------------------------------------------------

export type Kind = 'track' | 'purchase' | 'revenue';

const ENDPOINT_OF: Record<Kind, StandInEndpoint> = {
  track: 'track',
  purchase: 'trackPurchase',
  revenue: 'trackRevenue',
};

export interface TrackedEvent {
  readonly seq: number;
  readonly endpoint: StandInEndpoint;
  /** Set when the event was tracked with an explicit eventTime. */
  readonly explicitTime?: number;
  /** Date.now() just before and just after track() was called. */
  readonly calledAt: number;
  readonly returnedAt: number;
  /** How its track() promise settled so far. */
  outcome: { state: 'pending' } | { state: 'resolved' } | { state: 'rejected'; error: unknown };
}

export interface TrackOptions {
  kind?: Kind;
  eventName?: string;
  /** Default: even seqs get an explicit eventTime, odd ones let track() stamp it. */
  explicitTime?: boolean;
}

/**
 * Tracks numbered events (eventData.seq) through the public service and remembers, per seq,
 * the eventTime it must arrive with and how its promise settled.
 */
export class EventLedger {
  readonly events = new Map<number, TrackedEvent>();
  private readonly promises: Promise<unknown>[] = [];

  constructor(private readonly tracking: EventTrackingService) {}

  track(seq: number, options: TrackOptions = {}): Promise<void> {
    if (this.events.has(seq)) throw new Error(`seq ${seq} tracked twice by the test`);
    const kind = options.kind ?? 'track';
    const explicit = options.explicitTime ?? seq % 2 === 0;
    const explicitTime = explicit ? EXPLICIT_TIME_BASE + seq : undefined;
    const who = { userId: `user-${seq % 7}` };
    const common = { ...who, eventData: { seq }, ...(explicitTime === undefined ? {} : { eventTime: explicitTime }) };
    const eventName = options.eventName ?? 'reliability';

    const calledAt = Date.now();
    const promise =
      kind === 'track'
        ? this.tracking.track({ ...common, eventName })
        : kind === 'purchase'
          ? this.tracking.trackPurchase({ ...common, eventName, revenue: 1000 + seq, currency: 'RIAL' })
          : this.tracking.trackRevenue({ ...common, revenue: 1000 + seq, currency: 'RIAL' });
    const returnedAt = Date.now();

    const entry: TrackedEvent = {
      seq,
      endpoint: ENDPOINT_OF[kind],
      explicitTime,
      calledAt,
      returnedAt,
      outcome: { state: 'pending' },
    };
    this.events.set(seq, entry);
    this.promises.push(
      promise.then(
        () => (entry.outcome = { state: 'resolved' }),
        (error: unknown) => (entry.outcome = { state: 'rejected', error }),
      ),
    );
    return promise;
  }

  /**
   * Tracks seqs from..from+count-1 the way a busy app does: in bursts, letting the event
   * loop run between them (a long synchronous loop would stall in-flight requests past
   * timeoutMs and fake timeouts that Chabok never caused).
   */
  async trackRange(
    from: number,
    count: number,
    options: TrackOptions | ((seq: number) => TrackOptions) = {},
    burst = 25,
  ): Promise<void> {
    for (let seq = from; seq < from + count; seq++) {
      void this.track(seq, typeof options === 'function' ? options(seq) : options);
      if ((seq - from) % burst === burst - 1) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Tracks seqs from..from+count-1 in one synchronous loop: nothing is sent in between. */
  trackRangeNow(from: number, count: number, options: TrackOptions = {}): void {
    for (let seq = from; seq < from + count; seq++) void this.track(seq, options);
  }

  /** Resolves once every track() promise has settled. */
  async settled(): Promise<void> {
    await Promise.all(this.promises);
  }

  seqs(): number[] {
    return [...this.events.keys()].sort((a, b) => a - b);
  }

  /** Seqs whose track() promise resolved / rejected. */
  resolved(): number[] {
    return this.seqs().filter((s) => this.events.get(s)!.outcome.state === 'resolved');
  }

  rejected(): number[] {
    return this.seqs().filter((s) => this.events.get(s)!.outcome.state === 'rejected');
  }

  errorOf(seq: number): unknown {
    const outcome = this.events.get(seq)?.outcome;
    return outcome?.state === 'rejected' ? outcome.error : undefined;
  }
}

export interface Analysis {
  /** Distinct seqs that arrived, ascending. */
  readonly delivered: number[];
  /** Arrivals beyond the first of each seq. */
  readonly duplicates: number;
  /** Seqs that arrived more than once (once per extra arrival), ascending. */
  readonly duplicatedSeqs: number[];
  /** Tracked seqs that never arrived, ascending. */
  readonly missing: number[];
  /** Arrivals the ledger cannot explain (unknown seq, or the wrong endpoint). */
  readonly unexpected: string[];
  /** Arrivals whose eventTime is not the one captured when track() was called. */
  readonly timeMismatches: string[];
}

/** Compares what the stand-in accepted with what the ledger tracked. */
export function analyse(standIn: ChabokStandIn, ledger: EventLedger): Analysis {
  const seen = new Map<number, number>();
  const unexpected: string[] = [];
  const timeMismatches: string[] = [];
  for (const { endpoint, event } of standIn.accepted) {
    const seq = (event.eventData as { seq?: unknown } | undefined)?.seq;
    const tracked = typeof seq === 'number' ? ledger.events.get(seq) : undefined;
    if (!tracked || tracked.endpoint !== endpoint) {
      unexpected.push(`${endpoint}: ${JSON.stringify(event)}`);
      continue;
    }
    seen.set(tracked.seq, (seen.get(tracked.seq) ?? 0) + 1);
    const time = event.eventTime;
    const ok =
      tracked.explicitTime !== undefined
        ? time === tracked.explicitTime
        : typeof time === 'number' && time >= tracked.calledAt && time <= tracked.returnedAt;
    if (!ok) {
      const expected = tracked.explicitTime ?? `[${tracked.calledAt}, ${tracked.returnedAt}]`;
      timeMismatches.push(`seq ${tracked.seq}: eventTime ${String(time)}, expected ${expected}`);
    }
  }
  const delivered = [...seen.keys()].sort((a, b) => a - b);
  const duplicatedSeqs = delivered.flatMap((seq) => Array<number>(seen.get(seq)! - 1).fill(seq));
  return {
    delivered,
    duplicates: duplicatedSeqs.length,
    duplicatedSeqs,
    missing: ledger.seqs().filter((seq) => !seen.has(seq)),
    unexpected,
    timeMismatches,
  };
}

// --- checks shared by many cases ----------------------------------------------------

/** stats() once the pipeline is idle: nothing held, and every accepted event accounted for. */
export function idleStatsProblems(stats: ChabokStats): string[] {
  const problems: string[] = [];
  if (stats.queued !== 0) problems.push(`queued ${stats.queued}`);
  if (stats.queuedBytes !== 0) problems.push(`queuedBytes ${stats.queuedBytes}`);
  if (stats.inFlight !== 0) problems.push(`inFlight ${stats.inFlight}`);
  if (stats.oldestQueuedAt !== null) problems.push(`oldestQueuedAt ${stats.oldestQueuedAt}`);
  if (stats.accepted !== stats.delivered + stats.failed + stats.dropped) {
    problems.push(
      `accepted ${stats.accepted} != delivered ${stats.delivered} + failed ${stats.failed} + dropped ${stats.dropped}`,
    );
  }
  return problems;
}

/** Every place the library reports to the app: stats, lastError, onError payloads, logs. */
export function reportedText(app: ReliabilityApp, ledger?: EventLedger): string {
  const errorText = (e: unknown) =>
    e instanceof Error ? `${e.name} ${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}` : String(e);
  const parts = [
    JSON.stringify(app.tracking.stats()),
    ...app.failures.map((f) => `${f.endpoint} ${errorText(f.error)} ${JSON.stringify(f.events)}`),
    app.logger.text(),
  ];
  if (ledger) for (const seq of ledger.rejected()) parts.push(errorText(ledger.errorOf(seq)));
  return parts.join('\n');
}

/** Seqs of the events a list of failures carries, ascending. */
export function failedSeqs(failures: readonly ChabokFailure[]): number[] {
  return failures.flatMap((f) => f.events.map((e) => (e.eventData as { seq: number }).seq)).sort((a, b) => a - b);
}

/** Seqs carried by one recorded request body (array or single object). */
export function seqsOf(request: RecordedRequest): number[] {
  const body = request.body;
  const events = (Array.isArray(body) ? body : [body]) as { eventData?: { seq?: number } }[];
  return events.map((e) => e.eventData?.seq).filter((s): s is number => typeof s === 'number');
}

/** Number of events in one recorded request body. */
export function sizeOf(request: RecordedRequest): number {
  return Array.isArray(request.body) ? request.body.length : 1;
}

/** from, from+1, ..., from+count-1 */
export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/**
 * Wraps a fault handler so it also records how many requests were being handled by the
 * stand-in when each request arrived (the arriving one included). A request counts as
 * in flight from its arrival until the stand-in answered it (or reset it).
 */
export function withConcurrencyProbe(standIn: ChabokStandIn, inner: FaultHandler = () => undefined) {
  const resets = new Set<RecordedRequest>();
  const atArrival: number[] = [];
  const handler: FaultHandler = (request, index) => {
    const action = inner(request, index);
    if (action?.reset) resets.add(request);
    atArrival[index] =
      standIn.requests.filter((r) => r.status === 0 && !resets.has(r)).length + (resets.has(request) ? 1 : 0);
    return action;
  };
  return { handler, atArrival, max: () => Math.max(0, ...atArrival.filter((n) => n !== undefined)) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Awaits `promise`, failing with a clear message instead of hanging past `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
