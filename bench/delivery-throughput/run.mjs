// bench/delivery-throughput: events per second through EventTrackingService to a loopback
// sink in another process, against raw undici posting pre-built 500-event arrays.
//
// Each round: the producer child tracks N events in one synchronous loop (no await per
// event), then awaits flush(). The time splits into the loop (validation + enqueue) and the
// drain (batching, serialising, posting, settling). A child with enabled: false times
// validation alone. The baseline posts the same number of events as N/500 pre-built JSON
// arrays over 2 keep-alive connections, 2 requests in flight: the sink's own ceiling.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { compiled, pollUntil, startChild } from '../shared/children.mjs';
import { fmt, median, printTable, writeResult } from '../shared/report.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const BATCH = 500;
const WARMUP_EVENTS = 20_000;

/** Same shape as shared/events.ts, built in advance: the baseline does no per-event work. */
function baselineBodies(count) {
  const bodies = [];
  for (let start = 0; start < count; start += BATCH) {
    const events = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      events.push({
        installationId: `inst-${String(i % 1000).padStart(8, '0')}`,
        eventName: 'addToCart',
        eventTime: Date.now(),
        eventData: { productId: 100_000 + (i % 900_000), productName: 'milk', quantity: 2 },
      });
    }
    bodies.push({ body: JSON.stringify(events), events: events.length });
  }
  return bodies;
}

async function baselineRound(pool, token, bodies) {
  let next = 0;
  let delivered = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const { body, events } = bodies[next++];
      const res = await pool.request({
        path: '/api/installations/track',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-access-token': token },
        body,
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`baseline: sink answered ${res.statusCode}`);
      delivered += events;
    }
  };
  const t0 = performance.now();
  await Promise.all([worker(), worker()]);
  return { delivered, ms: performance.now() - t0 };
}

const sink = await startChild(compiled('shared/sink.js'));
const env = { BENCH_SINK_URL: sink.ready.baseUrl, BENCH_SINK_TOKEN: sink.ready.accessToken };
const children = [];
const rows = { track: [], capture: [], validateOnly: [], baseline: [] };
let failures = 0;

try {
  const producer = await startChild(compiled('delivery-throughput/tracker.js'), { args: ['deliver'], env });
  children.push(producer);
  const validator = await startChild(compiled('delivery-throughput/tracker.js'), { args: ['disabled'], env });
  children.push(validator);
  const origin = new URL(sink.ready.baseUrl).origin;
  const pool = new Pool(origin, { connections: 2, pipelining: 1 });
  const bodies = baselineBodies(EVENTS);
  const sinkCount = async () => (await sink.call('count')).accepted;

  const delivered = async (path, count) => {
    // A few events first, so the round starts on fresh keep-alive sockets: the sink (Node's
    // http server) closes sockets idle for 5 s, and a burst that blocks the event loop could
    // otherwise write its first batch to a socket the sink just closed (a retried ECONNRESET).
    await producer.call('run', { count: 2 * BATCH, path }); // two batches: both sockets
    const before = await sinkCount();
    const r = await producer.call('run', { count, path });
    const atSink = (await pollUntil(sinkCount, (n) => n - before >= count, { timeoutMs: 30_000 })) - before;
    return { ...r, atSink };
  };

  console.log(`delivery-throughput: ${ROUNDS} rounds of ${fmt.int(EVENTS)} events (warmup ${fmt.int(WARMUP_EVENTS)})`);
  await delivered('track', WARMUP_EVENTS);
  await delivered('capture', WARMUP_EVENTS);
  await validator.call('run', { count: WARMUP_EVENTS, path: 'track' });
  await baselineRound(pool, sink.ready.accessToken, bodies.slice(0, WARMUP_EVENTS / BATCH));

  for (let round = 1; round <= ROUNDS; round++) {
    for (const path of ['track', 'capture']) {
      const r = await delivered(path, EVENTS);
      const row = {
        round,
        ...r,
        totalMs: r.trackMs + r.drainMs,
        eventsPerSec: EVENTS / ((r.trackMs + r.drainMs) / 1000),
        trackMicrosPerEvent: (r.trackMs * 1000) / EVENTS,
        drainMicrosPerEvent: (r.drainMs * 1000) / EVENTS,
        drainEventsPerSec: EVENTS / (r.drainMs / 1000),
        cpuMicrosPerEvent: r.cpuMicros / EVENTS,
      };
      const ok = r.delivered === EVENTS && r.atSink === EVENTS && r.failed === 0 && r.dropped === 0;
      if (!ok) failures++;
      rows[path].push(row);
      console.log(
        `  round ${round} ${path.padEnd(8)} ${fmt.int(row.eventsPerSec).padStart(8)} events/s  loop ${fmt.int(r.trackMs)} ms ` +
          `(${fmt.f2(row.trackMicrosPerEvent)} µs/event)  drain ${fmt.int(r.drainMs)} ms  ${r.batches} batches  at sink ${r.atSink}${r.retried ? `  (${r.retried} retried)` : ''}${ok ? '' : '  <-- MISMATCH'}`,
      );
    }
    const v = await validator.call('run', { count: EVENTS, path: 'track' });
    rows.validateOnly.push({
      round,
      ms: v.trackMs,
      microsPerEvent: (v.trackMs * 1000) / EVENTS,
      eventsPerSec: EVENTS / (v.trackMs / 1000),
    });
    console.log(
      `  round ${round} validate ${fmt.int(EVENTS / (v.trackMs / 1000)).padStart(8)} events/s  (track() with enabled: false, ${fmt.f2((v.trackMs * 1000) / EVENTS)} µs/event)`,
    );

    const before = await sinkCount();
    const b = await baselineRound(pool, sink.ready.accessToken, bodies);
    const atSink = (await pollUntil(sinkCount, (n) => n - before >= EVENTS)) - before;
    if (atSink !== EVENTS) failures++;
    rows.baseline.push({ round, ms: b.ms, eventsPerSec: EVENTS / (b.ms / 1000), atSink });
    console.log(
      `  round ${round} baseline ${fmt.int(EVENTS / (b.ms / 1000)).padStart(8)} events/s  (undici, pre-built ${BATCH}-event arrays, 2 in flight)  at sink ${atSink}`,
    );
  }
  await pool.close();
} finally {
  await Promise.all(children.map((c) => c.stop()));
  await sink.stop();
}

const m = (list, key) => median(list.map((x) => x[key]));
const summary = {
  track: {
    eventsPerSec: m(rows.track, 'eventsPerSec'),
    drainEventsPerSec: m(rows.track, 'drainEventsPerSec'),
    trackMs: m(rows.track, 'trackMs'),
    drainMs: m(rows.track, 'drainMs'),
    trackMicrosPerEvent: m(rows.track, 'trackMicrosPerEvent'),
    drainMicrosPerEvent: m(rows.track, 'drainMicrosPerEvent'),
    cpuMicrosPerEvent: m(rows.track, 'cpuMicrosPerEvent'),
  },
  capture: {
    eventsPerSec: m(rows.capture, 'eventsPerSec'),
    drainEventsPerSec: m(rows.capture, 'drainEventsPerSec'),
    trackMs: m(rows.capture, 'trackMs'),
    drainMs: m(rows.capture, 'drainMs'),
    trackMicrosPerEvent: m(rows.capture, 'trackMicrosPerEvent'),
    drainMicrosPerEvent: m(rows.capture, 'drainMicrosPerEvent'),
    cpuMicrosPerEvent: m(rows.capture, 'cpuMicrosPerEvent'),
  },
  validateOnly: {
    eventsPerSec: m(rows.validateOnly, 'eventsPerSec'),
    microsPerEvent: m(rows.validateOnly, 'microsPerEvent'),
  },
  baseline: { eventsPerSec: m(rows.baseline, 'eventsPerSec') },
};
const ratios = {
  trackVsBaseline: median(rows.track.map((r, i) => r.eventsPerSec / rows.baseline[i].eventsPerSec)),
  captureVsBaseline: median(rows.capture.map((r, i) => r.eventsPerSec / rows.baseline[i].eventsPerSec)),
  validationShareOfTrackLoop: median(rows.track.map((r, i) => rows.validateOnly[i].ms / r.trackMs)),
};
const targets = {
  delivery: {
    target: '>= 250k events/s end to end through track()',
    value: summary.track.eventsPerSec,
    met: summary.track.eventsPerSec >= 250_000,
  },
};

console.log(`\ndelivery-throughput: medians of ${ROUNDS} rounds, ${fmt.int(EVENTS)} events each`);
printTable(
  ['path', 'events/s end to end', 'loop µs/event', 'drain µs/event', 'drain alone events/s', 'producer CPU µs/event'],
  [
    [
      'service.track() (promise per event)',
      fmt.int(summary.track.eventsPerSec),
      fmt.f2(summary.track.trackMicrosPerEvent),
      fmt.f2(summary.track.drainMicrosPerEvent),
      fmt.int(summary.track.drainEventsPerSec),
      fmt.f2(summary.track.cpuMicrosPerEvent),
    ],
    [
      'service.capture() (interceptor path)',
      fmt.int(summary.capture.eventsPerSec),
      fmt.f2(summary.capture.trackMicrosPerEvent),
      fmt.f2(summary.capture.drainMicrosPerEvent),
      fmt.int(summary.capture.drainEventsPerSec),
      fmt.f2(summary.capture.cpuMicrosPerEvent),
    ],
    [
      'track() with enabled: false (validation)',
      fmt.int(summary.validateOnly.eventsPerSec),
      fmt.f2(summary.validateOnly.microsPerEvent),
      '-',
      '-',
      '-',
    ],
    ['baseline: undici, pre-built arrays', fmt.int(summary.baseline.eventsPerSec), '-', '-', '-', '-'],
  ],
);
console.log(
  `track()/baseline: ${fmt.f2(ratios.trackVsBaseline)}x   capture()/baseline: ${fmt.f2(ratios.captureVsBaseline)}x   validation share of the track() loop: ${Math.round(ratios.validationShareOfTrackLoop * 100)}%`,
);
for (const t of Object.values(targets))
  console.log(`target ${t.target}: ${t.met ? 'MET' : 'MISSED'} (${fmt.int(t.value)} events/s)`);
const file = writeResult('delivery-throughput', {
  config: { rounds: ROUNDS, events: EVENTS, batch: BATCH, warmupEvents: WARMUP_EVENTS },
  summary,
  ratios,
  targets,
  rounds: rows,
});
console.log(`written ${file}`);
if (failures) {
  console.error(`delivery-throughput: ${failures} round(s) lost, dropped or failed events`);
  process.exitCode = 1;
}
