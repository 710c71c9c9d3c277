/**
 * What arrives at Chabok when Chabok misbehaves. Each case: a user's app tracks numbered
 * events through EventTrackingService, the stand-in injects one kind of fault, and the test
 * checks exactly what arrived (nothing valid lost, nothing duplicated, eventTime unmoved),
 * how every track() promise settled, what onError and the logs said, and stats().
 */
import { ChabokDeliveryError, type ChabokDeliveryFailureReason } from '../../src/index.js';
import type { ChabokStandIn, RecordedRequest } from '../../stand-in/chabok-stand-in.js';
import {
  EventLedger,
  SECRET_TOKEN,
  analyse,
  failedSeqs,
  idleStatsProblems,
  range,
  reportedText,
  seqsOf,
  sizeOf,
  sleep,
  startApp,
  startStandIn,
  warmUp,
  withConcurrencyProbe,
  within,
  type Kind,
  type ReliabilityApp,
} from '../support/reliability-harness.js';

const CASE_TIMEOUT = 20_000;
/** Upper bound for any single wait; far above what a case needs, so only a hang trips it. */
const WAIT = 10_000;

let standIn: ChabokStandIn;
let app: ReliabilityApp | undefined;
let down = false;

beforeAll(async () => {
  standIn = await startStandIn();
  await warmUp(standIn);
});

afterEach(async () => {
  if (down) await comeBack();
  await app?.close();
  app = undefined;
  standIn.reset();
});

afterAll(async () => {
  await standIn.close();
});

async function goDown(): Promise<void> {
  await standIn.goDown();
  down = true;
}

async function comeBack(): Promise<void> {
  await standIn.comeBack();
  down = false;
}

/** Everything the ledger tracked arrived exactly once, with the eventTime captured at track(). */
function expectEachArrivedOnce(ledger: EventLedger): void {
  const a = analyse(standIn, ledger);
  expect(a.missing).toEqual([]);
  expect(a.duplicatedSeqs).toEqual([]);
  expect(a.unexpected).toEqual([]);
  expect(a.timeMismatches).toEqual([]);
  expect(a.delivered).toEqual(ledger.seqs());
}

function expectIdleAndConsistent(current: ReliabilityApp): void {
  expect(idleStatsProblems(current.tracking.stats())).toEqual([]);
}

function expectNoToken(current: ReliabilityApp, ledger?: EventLedger, token = SECRET_TOKEN): void {
  const text = reportedText(current, ledger);
  expect(text.includes(token)).toBe(false);
}

/** Every failure is a ChabokDeliveryError with this reason; returns them. */
function expectFailuresWithReason(current: ReliabilityApp, reason: ChabokDeliveryFailureReason): ChabokDeliveryError[] {
  const errors = current.failures.map((f) => f.error);
  for (const error of errors) {
    expect(error).toBeInstanceOf(ChabokDeliveryError);
    expect(error.reason).toBe(reason);
  }
  return errors;
}

function expectRejectedWith(ledger: EventLedger, seqs: number[], reason: ChabokDeliveryFailureReason): void {
  expect(ledger.rejected()).toEqual(seqs);
  for (const seq of seqs) {
    const error = ledger.errorOf(seq);
    expect(error).toBeInstanceOf(ChabokDeliveryError);
    expect((error as ChabokDeliveryError).reason).toBe(reason);
  }
}

describe('transient failures: every event still arrives exactly once', () => {
  it(
    'a. every third request answered 503',
    async () => {
      standIn.fault = (_r, i) => (i % 3 === 2 ? { status: 503, body: '{"error":"unavailable"}' } : undefined);
      app = await startApp(standIn, { maxBatchSize: 50 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 600);

      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      expectEachArrivedOnce(ledger);
      expect(standIn.requests.filter((r) => r.status === 503).length).toBeGreaterThan(0);
      expect(ledger.resolved()).toEqual(range(0, 600));
      expect(app.failures).toEqual([]);
      const stats = app.tracking.stats();
      expect(stats).toMatchObject({ accepted: 600, delivered: 600, failed: 0, dropped: 0, paused: false });
      const refused = standIn.requests.filter((r) => r.status === 503).reduce((n, r) => n + sizeOf(r), 0);
      expect(stats.retried).toBeGreaterThanOrEqual(refused); // every refused event was sent again
      expect(stats.lastError).toMatchObject({ status: 503 });
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    },
    CASE_TIMEOUT,
  );

  describe('b. 429 with Retry-After pauses the whole pipeline, then probes one request at a time', () => {
    /**
     * The first wave (maxConcurrentRequests requests sent together) is answered 429 after
     * 50 ms; the next request (the probe) is answered 200 after 100 ms. `earliestRetry` says,
     * for each 429, the first moment another request may arrive.
     */
    async function runRetryAfter(
      header: (now: number) => string,
      earliestRetry: (answeredAt: number, header: string) => number,
    ) {
      const wave = 3;
      const notBefore: number[] = [];
      const whileFailing: { index: number; inFlight: number; paused: boolean }[] = [];
      standIn.fault = (_r, i) => {
        const failing =
          standIn.requests.some((r) => r.status === 429) && !standIn.requests.some((r) => r.status === 200);
        if (failing) {
          whileFailing.push({
            index: i,
            inFlight: standIn.requests.filter((r) => r.status === 0).length,
            paused: app!.tracking.stats().paused,
          });
        }
        if (i < wave) {
          const value = header(Date.now());
          // This timer fires just before the stand-in's own 50 ms one, so it marks (a lower
          // bound of) the moment the 429 went out.
          setTimeout(() => notBefore.push(earliestRetry(Date.now(), value)), 50);
          return { status: 429, headers: { 'Retry-After': value }, body: '{"error":"slow down"}', delayMs: 50 };
        }
        if (i === wave) return { delayMs: 100 };
        return undefined;
      };
      // retryMaxDelayMs also caps Retry-After, so it is set above it here; timeoutMs is not the point.
      app = await startApp(standIn, {
        maxBatchSize: 50,
        maxConcurrentRequests: wave,
        retryMaxDelayMs: 5_000,
        timeoutMs: 5_000,
      });
      const ledger = new EventLedger(app.tracking);
      ledger.trackRangeNow(0, 300); // one tick: the first wave is three full batches, sent together

      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      const requests = standIn.requests;
      expect(requests.slice(0, wave).map((r) => r.status)).toEqual([429, 429, 429]);
      expect(notBefore).toHaveLength(wave);
      // No request after the 429s arrived before their Retry-After had elapsed.
      const early = requests.slice(wave).filter((r) => notBefore.some((t) => r.at < t));
      expect(early.map((r) => ({ at: r.at, notBefore: Math.max(...notBefore) }))).toEqual([]);
      // While failing (after a 429, before the first 2xx) only the probe was in flight.
      expect(whileFailing.length).toBeGreaterThanOrEqual(1);
      expect(whileFailing.filter((w) => w.inFlight > 1)).toEqual([]);
      expect(whileFailing[0]).toMatchObject({ index: wave, paused: true });

      expectEachArrivedOnce(ledger);
      expect(ledger.resolved()).toEqual(range(0, 300));
      const stats = app.tracking.stats();
      expect(stats).toMatchObject({ accepted: 300, delivered: 300, failed: 0, retried: 150, paused: false });
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    }

    it(
      'Retry-After in seconds',
      async () => {
        await runRetryAfter(
          () => '1',
          (answeredAt) => answeredAt + 1_000,
        );
      },
      CASE_TIMEOUT,
    );

    it(
      'Retry-After as an HTTP-date',
      async () => {
        await runRetryAfter(
          (now) => new Date(now + 2_000).toUTCString(),
          (_answeredAt, value) => Date.parse(value),
        );
      },
      CASE_TIMEOUT,
    );
  });

  it(
    'c. connection resets on every fourth request',
    async () => {
      standIn.fault = (_r, i) => (i % 4 === 1 ? { reset: true } : undefined);
      app = await startApp(standIn, { maxBatchSize: 40 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 400);

      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      expectEachArrivedOnce(ledger);
      expect(standIn.requests.filter((r) => r.status === 0).length).toBeGreaterThan(0);
      expect(ledger.resolved()).toEqual(range(0, 400));
      expect(app.failures).toEqual([]);
      expect(app.tracking.stats()).toMatchObject({ accepted: 400, delivered: 400, failed: 0 });
      expect(app.tracking.stats().retried).toBeGreaterThan(0);
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    },
    CASE_TIMEOUT,
  );

  it(
    'd. a 1.2 s outage: events tracked before and during it all arrive afterwards',
    async () => {
      app = await startApp(standIn, { maxBatchSize: 50 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 150); // before: some may be in flight when Chabok goes away
      await goDown();
      await ledger.trackRange(150, 150); // during
      await sleep(600);
      await ledger.trackRange(300, 150); // later in the outage
      await sleep(600);
      const during = app.tracking.stats();
      await comeBack();

      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      expect(during.paused).toBe(true);
      expect(during.queued + during.inFlight).toBeGreaterThan(0);
      expectEachArrivedOnce(ledger);
      expect(ledger.resolved()).toEqual(range(0, 450));
      expect(app.failures).toEqual([]);
      expect(app.tracking.stats()).toMatchObject({ accepted: 450, delivered: 450, failed: 0, paused: false });
      expect(app.tracking.stats().retried).toBeGreaterThan(0);
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    },
    CASE_TIMEOUT,
  );

  it(
    'e. answers slower than timeoutMs after Chabok accepted: all arrive, the only duplicates are those batches',
    async () => {
      const slow = new Set([1, 4]);
      // Accept the events, then answer only after the client (timeoutMs 400) gave up.
      standIn.fault = (_r, i) => (slow.has(i) ? { accept: true, delayMs: 1_000 } : undefined);
      app = await startApp(standIn, { maxBatchSize: 40, timeoutMs: 400 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 400);

      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      const a = analyse(standIn, ledger);
      const timedOut = [...slow].map((i) => standIn.requests[i]!);
      const resent = timedOut.flatMap(seqsOf).sort((x, y) => x - y);
      expect(a.missing).toEqual([]);
      expect(a.unexpected).toEqual([]);
      expect(a.timeMismatches).toEqual([]);
      expect({
        report: `${a.duplicates} duplicate event(s), from ${timedOut.length} timed-out request(s) of ${timedOut.map(sizeOf).join(' + ')} events`,
        duplicatedSeqs: a.duplicatedSeqs,
      }).toEqual({
        report: `${resent.length} duplicate event(s), from 2 timed-out request(s) of ${timedOut.map(sizeOf).join(' + ')} events`,
        duplicatedSeqs: resent,
      });
      expect(resent.length).toBeGreaterThan(0);
      expect(ledger.resolved()).toEqual(range(0, 400));
      expect(app.failures).toEqual([]);
      const stats = app.tracking.stats();
      expect(stats).toMatchObject({ accepted: 400, delivered: 400, failed: 0, retried: resent.length });
      expect(stats.lastError?.message).toMatch(/timeout/i);
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    },
    CASE_TIMEOUT,
  );
});

describe('permanent refusals', () => {
  it(
    "f. a 400 naming poison events: the rest of the batch arrives, only the poison ones fail, with Chabok's answer",
    async () => {
      const poison = new Set([17, 150, 151, 299]);
      standIn.fault = (r) => {
        const events = (Array.isArray(r.body) ? r.body : [r.body]) as { eventName?: string }[];
        const invalid = events.flatMap((e, index) =>
          e.eventName === 'poison' ? [{ index, reason: 'poison is not allowed' }] : [],
        );
        return invalid.length ? { status: 400, body: JSON.stringify({ error: 'invalid events', invalid }) } : undefined;
      };
      app = await startApp(standIn, { maxBatchSize: 100 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 300, (seq) => (poison.has(seq) ? { eventName: 'poison' } : {}));

      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      const valid = range(0, 300).filter((s) => !poison.has(s));
      const a = analyse(standIn, ledger);
      expect(a.delivered).toEqual(valid);
      expect(a.missing).toEqual([...poison]);
      expect(a.duplicatedSeqs).toEqual([]);
      expect(a.timeMismatches).toEqual([]);
      expect(ledger.resolved()).toEqual(valid);
      expectRejectedWith(ledger, [...poison], 'rejected');

      // One failure per poison event, each carrying Chabok's answer for that single event.
      expect(failedSeqs(app.failures)).toEqual([...poison]);
      expect(app.failures.every((f) => f.events.length === 1 && f.endpoint === 'installations/track')).toBe(true);
      for (const error of expectFailuresWithReason(app, 'rejected')) {
        expect(error.status).toBe(400);
        expect(JSON.parse(error.responseBody!)).toEqual({
          error: 'invalid events',
          invalid: [{ index: 0, reason: 'poison is not allowed' }],
        });
      }
      expect(app.tracking.stats()).toMatchObject({ accepted: 300, delivered: 296, failed: 4, retried: 0 });
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    },
    CASE_TIMEOUT,
  );

  it(
    'g. 401: every event fails as unauthorized, logged loudly once, never with the token',
    async () => {
      const wrongToken = 'tok-WRONG-s3cr3t-0d9e';
      app = await startApp(standIn, { accessToken: wrongToken, maxBatchSize: 50 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 200);

      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      expect(standIn.accepted).toEqual([]);
      expect(standIn.requests.length).toBeGreaterThanOrEqual(4);
      expect(standIn.requests.every((r) => r.status === 401)).toBe(true);
      expectRejectedWith(ledger, range(0, 200), 'unauthorized');
      expect(failedSeqs(app.failures)).toEqual(range(0, 200));
      for (const error of expectFailuresWithReason(app, 'unauthorized')) expect(error.status).toBe(401);

      const errors = app.logger.chabok('error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toMatch(/401/);
      expect(errors[0]!.message).toMatch(/accessToken/);
      expect(app.tracking.stats()).toMatchObject({
        accepted: 200,
        delivered: 0,
        failed: 200,
        retried: 0,
        batchesSent: standIn.requests.length,
      });
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger, wrongToken);
      expectNoToken(app, ledger, SECRET_TOKEN);
    },
    CASE_TIMEOUT,
  );
});

describe('h. a bounded queue while Chabok is down', () => {
  /** Wire size of one of this case's events (seqs 1000..1079: every one the same size). */
  const eventBytes = Buffer.byteLength(
    JSON.stringify({
      userId: 'user-0',
      eventName: 'reliability',
      eventTime: Date.UTC(2024, 0, 1),
      eventData: { seq: 1000 },
    }),
  );
  const first = 1000;
  const bounds = {
    maxQueueSize: { maxQueueSize: 50 },
    // Room for 50 events and half of another; maxBatchBytes above 50 events, so no batch fills while tracking.
    maxQueueBytes: {
      maxQueueBytes: 50 * eventBytes + Math.floor(eventBytes / 2),
      maxBatchBytes: 50 * eventBytes + Math.floor(eventBytes / 2),
    },
  } as const;

  it.each([
    ['maxQueueSize', 'drop-newest', range(first + 50, 30)],
    ['maxQueueSize', 'drop-oldest', range(first, 30)],
    ['maxQueueBytes', 'drop-newest', range(first + 50, 30)],
    ['maxQueueBytes', 'drop-oldest', range(first, 30)],
  ] as const)(
    '%s, overflow %s: exactly the expected 30 of 80 are dropped, the kept 50 arrive',
    async (bound, overflow, dropped) => {
      await goDown();
      app = await startApp(standIn, { ...bounds[bound], overflow });
      const ledger = new EventLedger(app.tracking);
      ledger.trackRangeNow(first, 80); // one tick: nothing is in flight yet, so the oldest can be evicted

      const held = app.tracking.stats();
      expect(held.queued).toBe(50);
      expect(held.queuedBytes).toBe(50 * eventBytes);
      expect(held.dropped).toBe(30);

      await sleep(50); // a few failed attempts against the closed port
      await comeBack();
      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      const kept = range(first, 80).filter((s) => !dropped.includes(s));
      const a = analyse(standIn, ledger);
      expect(a.delivered).toEqual(kept);
      expect(a.missing).toEqual(dropped);
      expect(a.duplicatedSeqs).toEqual([]);
      expect(a.timeMismatches).toEqual([]);
      expect(ledger.resolved()).toEqual(kept);
      expectRejectedWith(ledger, dropped, 'dropped');
      expectFailuresWithReason(app, 'dropped');
      expect(failedSeqs(app.failures)).toEqual(dropped);
      expect(app.tracking.stats()).toMatchObject({ delivered: 50, failed: 0, dropped: 30 });
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    },
    CASE_TIMEOUT,
  );
  it(
    'drop-oldest during an outage drops the oldest held events, also those already batched for a retry',
    async () => {
      await goDown();
      // The first 50 fill one batch, which fails and waits for its retry; no new batch fills meanwhile.
      app = await startApp(standIn, { maxQueueSize: 50, maxBatchSize: 50, overflow: 'drop-oldest' });
      const ledger = new EventLedger(app.tracking);
      ledger.trackRangeNow(0, 50);
      // Wait (bounded) for a moment when failed batches wait for their retry and none is in flight.
      const until = Date.now() + WAIT;
      while (!(app.tracking.stats().retried > 0 && app.tracking.stats().inFlight === 0) && Date.now() < until)
        await sleep(1);
      expect(app.tracking.stats()).toMatchObject({ inFlight: 0, queued: 50 });
      ledger.trackRangeNow(50, 30); // same tick as the check above: still nothing in flight

      await comeBack();
      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      const a = analyse(standIn, ledger);
      expect(failedSeqs(app.failures)).toEqual(range(0, 30));
      expect(a.missing).toEqual(range(0, 30));
      expect(a.delivered).toEqual(range(30, 50));
      expect(a.duplicatedSeqs).toEqual([]);
      expectIdleAndConsistent(app);
    },
    CASE_TIMEOUT,
  );
});

describe('deadlines', () => {
  it(
    'i. Chabok down through the shutdown budget: close() ends within it, the rest fail as shutdown, counted and logged',
    async () => {
      await goDown();
      app = await startApp(standIn, { shutdownTimeoutMs: 300, maxBatchSize: 50 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 120);
      await sleep(30); // the pipeline is retrying against the closed port

      const started = Date.now();
      await within(app.close(), WAIT, 'app.close()');
      const took = Date.now() - started;
      await ledger.settled();

      expect(took).toBeGreaterThanOrEqual(300); // it did try for the whole budget...
      expect(took).toBeLessThan(300 + 2_000); // ...and did not hang past it
      expectRejectedWith(ledger, range(0, 120), 'shutdown');
      expectFailuresWithReason(app, 'shutdown');
      expect(failedSeqs(app.failures)).toEqual(range(0, 120));
      const errors = app.logger.chabok('error');
      expect(errors.map((l) => l.message)).toEqual([
        expect.stringMatching(/\b120 event\(s\) could not be delivered within 300 ms/),
      ]);
      expect(app.tracking.stats()).toMatchObject({ accepted: 120, delivered: 0, failed: 120 });
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);

      // Tracked after shutdown: refused as 'shutdown', never queued.
      await expect(app.tracking.track({ userId: 'late', eventName: 'afterClose' })).rejects.toMatchObject({
        reason: 'shutdown',
      });
      expect(app.tracking.stats()).toMatchObject({ accepted: 121, failed: 121 });
      expectIdleAndConsistent(app);
    },
    CASE_TIMEOUT,
  );

  it(
    'j. deliveryDeadlineMs: events Chabok could not take in time fail as expired; later ones arrive',
    async () => {
      await goDown();
      app = await startApp(standIn, { deliveryDeadlineMs: 300, maxBatchSize: 50 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 100);

      await within(app.tracking.flush(), WAIT, 'flush (everything expires)');
      await ledger.settled();
      expectRejectedWith(ledger, range(0, 100), 'expired');
      expect(failedSeqs(app.failures)).toEqual(range(0, 100));
      for (const error of expectFailuresWithReason(app, 'expired'))
        expect(error.message).toMatch(/^not delivered within deliveryDeadlineMs \(last error: (ECONNREFUSED|none)/);

      await comeBack();
      await ledger.trackRange(100, 100);
      await within(app.tracking.flush(), WAIT, 'flush');
      await ledger.settled();

      const a = analyse(standIn, ledger);
      expect(a.delivered).toEqual(range(100, 100));
      expect(a.missing).toEqual(range(0, 100));
      expect(a.duplicatedSeqs).toEqual([]);
      expect(a.timeMismatches).toEqual([]);
      expect(ledger.resolved()).toEqual(range(100, 100));
      expect(app.tracking.stats()).toMatchObject({ accepted: 200, delivered: 100, failed: 100 });
      expectIdleAndConsistent(app);
      expectNoToken(app, ledger);
    },
    CASE_TIMEOUT,
  );
});

describe('k. batching shape', () => {
  it(
    '1,234 events with maxBatchSize 500 go as arrays of at most 500',
    async () => {
      // A long flush interval: batches go out because they are full, the rest at flush().
      app = await startApp(standIn, { maxBatchSize: 500, flushIntervalMs: 30_000 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 1_234);
      await within(app.tracking.flush(), WAIT, 'flush');

      expectEachArrivedOnce(ledger);
      expect(standIn.requests.every((r) => Array.isArray(r.body))).toBe(true);
      expect(standIn.requests.map(sizeOf).sort((x, y) => x - y)).toEqual([234, 500, 500]);
      expect(app.tracking.stats()).toMatchObject({ delivered: 1_234, batchesSent: 3 });
      expectIdleAndConsistent(app);
    },
    CASE_TIMEOUT,
  );

  it(
    'maxBatchBytes bounds every request body',
    async () => {
      app = await startApp(standIn, { maxBatchBytes: 4_096 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 300);
      await within(app.tracking.flush(), WAIT, 'flush');

      expectEachArrivedOnce(ledger);
      const bodies = standIn.requests.map((r) => Buffer.byteLength(r.raw));
      expect(bodies.filter((b) => b > 4_096)).toEqual([]);
      expect(bodies.length).toBeGreaterThan(1);
      expectIdleAndConsistent(app);
    },
    CASE_TIMEOUT,
  );

  it(
    'maxConcurrentRequests 2 against a slow Chabok: never more than 2 requests in flight',
    async () => {
      const engineInFlight: number[] = [];
      const probe = withConcurrencyProbe(standIn, () => {
        engineInFlight.push(app!.tracking.stats().inFlight);
        return { delayMs: 80 };
      });
      standIn.fault = probe.handler;
      app = await startApp(standIn, { maxBatchSize: 25, maxConcurrentRequests: 2 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 400);
      await within(app.tracking.flush(), WAIT, 'flush');

      expectEachArrivedOnce(ledger);
      expect(standIn.requests.length).toBe(16);
      expect(probe.max()).toBe(2); // it did use both slots, and never a third
      expect(Math.max(...engineInFlight)).toBeLessThanOrEqual(2 * 25);
      expectIdleAndConsistent(app);
    },
    CASE_TIMEOUT,
  );

  it(
    'purchase and revenue events go in their own batches to their own endpoints',
    async () => {
      const kinds: Kind[] = ['track', 'purchase', 'revenue'];
      app = await startApp(standIn, { maxBatchSize: 40 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 300, (seq) => ({ kind: kinds[seq % 3]! }));
      await within(app.tracking.flush(), WAIT, 'flush');

      expectEachArrivedOnce(ledger); // analyse() also checks each event arrived on its kind's endpoint
      const pathOf: Record<Kind, string> = {
        track: '/api/installations/track',
        purchase: '/api/installations/trackPurchase',
        revenue: '/api/installations/trackRevenue',
      };
      const mixed = standIn.requests.filter(
        (r: RecordedRequest) => !seqsOf(r).every((seq) => r.path === pathOf[kinds[seq % 3]!]),
      );
      expect(mixed).toEqual([]);
      expect(new Set(standIn.requests.map((r) => r.path))).toEqual(new Set(Object.values(pathOf)));
      expect(standIn.events('trackRevenue').every((e) => !('eventName' in e) && typeof e.revenue === 'number')).toBe(
        true,
      );
      expect(standIn.events('trackPurchase').every((e) => e.eventName === 'reliability' && e.currency === 'RIAL')).toBe(
        true,
      );
      expectIdleAndConsistent(app);
    },
    CASE_TIMEOUT,
  );
});

describe('l. flush()', () => {
  it(
    'resolves only once everything tracked before it has arrived',
    async () => {
      standIn.fault = () => ({ delayMs: 30 });
      app = await startApp(standIn, { maxBatchSize: 50, flushIntervalMs: 1_000 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 300);

      await within(app.tracking.flush(), WAIT, 'flush');
      const atFlush = analyse(standIn, ledger); // measured at the moment flush() resolved

      expect(atFlush.missing).toEqual([]);
      expect(atFlush.delivered).toEqual(range(0, 300));
      expect(app.tracking.stats()).toMatchObject({ queued: 0, inFlight: 0, delivered: 300 });
    },
    CASE_TIMEOUT,
  );

  it(
    'is not held up by events tracked after it was called',
    async () => {
      standIn.fault = () => ({ delayMs: 20 });
      app = await startApp(standIn, { maxBatchSize: 20 });
      const ledger = new EventLedger(app.tracking);
      await ledger.trackRange(0, 200);

      let flushed: ReturnType<typeof analyse> | undefined;
      const flushing = app.tracking.flush().then(() => (flushed = analyse(standIn, ledger)));
      // Keep tracking while the flush is pending: a steady stream, bounded in count and time.
      let seq = 200;
      const streamUntil = Date.now() + WAIT;
      while (!flushed && seq < 5_000 && Date.now() < streamUntil) {
        for (let k = 0; k < 5; k++) void ledger.track(seq++);
        await sleep(2);
      }
      await within(flushing, WAIT, 'flush');
      const trackedWhileFlushing = seq - 200;

      expect(flushed).toBeDefined();
      expect(trackedWhileFlushing).toBeGreaterThan(0);
      expect(flushed!.missing.filter((s) => s < 200)).toEqual([]);

      await within(app.tracking.flush(), WAIT, 'second flush');
      expectEachArrivedOnce(ledger);
      expectIdleAndConsistent(app);
    },
    CASE_TIMEOUT,
  );

  it(
    'resolves at once when nothing is queued',
    async () => {
      app = await startApp(standIn);
      await within(app.tracking.flush(), 1_000, 'flush of an empty queue');
      expect(standIn.requests).toEqual([]);
    },
    CASE_TIMEOUT,
  );
});
