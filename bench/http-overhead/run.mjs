// bench/http-overhead: what @TrackEvent() costs a Nest (Express) route.
//
// Four copies of the same app run as child processes (see app.ts), one per variant, and a
// fifth, (e) @TrackEvent() in durable mode, when redis-server is installed (a throwaway one
// on 127.0.0.1, stopped at the end; after each (e) slice the runner waits for (e)'s queue to
// drain to the sink, so its worker does not run while the other variants are loaded);
// autocannon, in this process, loads one at a time over 127.0.0.1; the stand-in sink runs
// in a third process. Load is interleaved finely: each round is SLICES cycles of
// (a, b, c, d), ~1 s of load each, so every variant sees the same mix of whatever else the
// machine is doing. App CPU is each app's own process.cpuUsage(), sampled over IPC at the
// start of the round and after the round's events reached the sink, so deferred tracking
// work (the interceptor's setImmediate, batching, the POSTs) is counted; an app does
// nothing while the others are loaded.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { compiled, pollUntil, startChild } from '../shared/children.mjs';
import { redisAvailable, startRedis } from '../shared/redis-server.mjs';
import { fmt, median, printTable, writeResult } from '../shared/report.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5); // of load per variant per round
const SLICES = Math.max(1, Math.round(SECONDS));
const SLICE_SECONDS = SECONDS / SLICES;
const WARMUP_SECONDS = 2;
const CONNECTIONS = 10;
const MAX_REQUESTS_PER_SLICE = 100_000; // bound, whatever the machine
const VARIANTS = [
  { key: 'plain', label: '(a) no interceptor' },
  { key: 'noop', label: '(b) no-op global interceptor' },
  { key: 'tracked', label: '(c) @TrackEvent() via ChabokModule', eventName: 'viewItem' },
  { key: 'handwritten', label: '(d) hand-written HttpService.post().subscribe()', eventName: 'viewItemByHand' },
];
const DURABLE = {
  key: 'durable',
  label: '(e) @TrackEvent() via ChabokModule, durable mode',
  eventName: 'viewItemDurable',
};
const withDurable = redisAvailable();
if (withDurable) VARIANTS.push(DURABLE);
else console.log('http-overhead: variant (e) durable mode SKIPPED: redis-server is not installed');
const HEADERS = { 'x-chabok-installation-id': 'bench-installation-0001' };

/** One autocannon run: `amount` requests, or `seconds` of load. Bounded in time either way. */
function load(url, { amount, seconds }) {
  return new Promise((resolve, reject) => {
    let completed = 0;
    let last = 0;
    const started = performance.now();
    const planned = seconds ?? SLICE_SECONDS;
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        headers: HEADERS,
        sampleInt: 100,
        ...(amount ? { amount } : { duration: seconds }),
      },
      (error, result) => {
        clearTimeout(guard);
        if (error) return reject(error);
        // autocannon's own duration includes up to one sample interval of idling at the end;
        // the rate here is completed responses over the time to the last one.
        resolve({ result, completed, elapsedMs: last - started });
      },
    );
    instance.on('response', () => {
      completed++;
      last = performance.now();
    });
    const guard = setTimeout(() => instance.stop(), Math.max(5, 4 * planned) * 1000);
  });
}

const redis = withDurable ? await startRedis() : undefined;
const sink = await startChild(compiled('shared/sink.js')).catch(async (error) => {
  await redis?.stop(); // no redis-server outlives the run
  throw error;
});
const apps = {};
const rows = Object.fromEntries(VARIANTS.map((v) => [v.key, []]));
/** Requests each app served so far (warmups included): each of (c)'s and (d)'s is one event at the sink. */
const served = Object.fromEntries(VARIANTS.map((v) => [v.key, 0]));
const rate = {};
let failures = 0;

const sinkCounts = () => sink.call('count');
/** Waits until the sink has one event per request (c), (d) and (e) served; returns its counts. */
const settleSink = (variants = VARIANTS) =>
  pollUntil(sinkCounts, (s) => variants.every((v) => !v.eventName || (s.byName[v.eventName] ?? 0) >= served[v.key]), {
    timeoutMs: 60_000,
  });

try {
  for (const v of VARIANTS) {
    apps[v.key] = await startChild(compiled('http-overhead/app.js'), {
      args: [v.key],
      env: {
        BENCH_SINK_URL: sink.ready.baseUrl,
        BENCH_SINK_TOKEN: sink.ready.accessToken,
        ...(redis ? { BENCH_REDIS_PORT: String(redis.port) } : {}),
      },
    });
  }
  console.log(
    `http-overhead: ${VARIANTS.length} variants x ${ROUNDS} rounds; a round = ${SLICES} x (${VARIANTS.map((v) => v.label.slice(1, 2)).join(',')}) slices of ~${SLICE_SECONDS} s, ` +
      `${CONNECTIONS} connections, after a ${WARMUP_SECONDS} s warmup of each`,
  );
  for (const v of VARIANTS) {
    const w = await load(apps[v.key].ready.url, { seconds: WARMUP_SECONDS });
    rate[v.key] = w.completed / (w.elapsedMs / 1000);
    served[v.key] = (await apps[v.key].call('sample')).served;
  }
  await settleSink();

  for (let round = 1; round <= ROUNDS; round++) {
    const sinkBefore = await sinkCounts();
    const start = {};
    for (const v of VARIANTS) start[v.key] = await apps[v.key].call('sample');
    const acc = Object.fromEntries(
      VARIANTS.map((v) => [v.key, { ok: 0, completed: 0, non2xx: 0, errors: 0, ms: 0, p50: [], p99: [] }]),
    );

    for (let slice = 0; slice < SLICES; slice++) {
      for (const v of VARIANTS) {
        // A fixed number of requests (~SLICE_SECONDS at this variant's last rate), so what
        // autocannon counted and what the app served are the same requests.
        const amount = Math.min(
          MAX_REQUESTS_PER_SLICE,
          Math.max(CONNECTIONS * 20, Math.round(rate[v.key] * SLICE_SECONDS)),
        );
        const { result, completed, elapsedMs } = await load(apps[v.key].ready.url, { amount });
        const a = acc[v.key];
        a.ok += result['2xx'];
        a.completed += completed;
        a.non2xx += result.non2xx;
        a.errors += result.errors;
        a.ms += elapsedMs;
        a.p50.push(result.latency.p50);
        a.p99.push(result.latency.p99);
        rate[v.key] = result['2xx'] / (elapsedMs / 1000);
        if (v === DURABLE) {
          // Durable delivery lags behind the requests: let (e)'s worker catch up now, so its
          // drain is not running while the next variant is loaded. Its CPU still counts for (e).
          served[v.key] = (await apps[v.key].call('sample')).served;
          await settleSink([DURABLE]);
        }
      }
    }

    for (const v of VARIANTS) served[v.key] = (await apps[v.key].call('sample')).served;
    const sinkAfter = await settleSink();
    for (const v of VARIANTS) {
      const end = await apps[v.key].call('sample');
      const a = acc[v.key];
      const sinkEvents = v.eventName
        ? (sinkAfter.byName[v.eventName] ?? 0) - (sinkBefore.byName[v.eventName] ?? 0)
        : null;
      const row = {
        round,
        ok: a.ok,
        non2xx: a.non2xx,
        errors: a.errors,
        served: end.served - start[v.key].served,
        reqPerSec: a.ok / (a.ms / 1000),
        p50Ms: median(a.p50),
        p99Ms: median(a.p99),
        cpuMicrosPerRequest: (end.cpuMicros - start[v.key].cpuMicros) / a.ok,
        sinkEvents,
        // (c) only: requests the library made to the sink in this round.
        batches: end.stats ? end.stats.batchesSent - start[v.key].stats.batchesSent : null,
        stats: end.stats,
      };
      const allArrived = !v.eventName || (sinkEvents === a.ok && row.served === a.ok);
      if (!allArrived || a.non2xx || a.errors) failures++;
      rows[v.key].push(row);
      console.log(
        `  round ${round} ${v.key.padEnd(11)} ${fmt.int(row.reqPerSec).padStart(7)} req/s  p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms  ` +
          `${fmt.f1(row.cpuMicrosPerRequest).padStart(6)} µs CPU/req  2xx ${a.ok}` +
          (v.eventName ? `  sink ${sinkEvents}${allArrived ? '' : '  <-- MISMATCH'}` : '') +
          (row.batches ? ` in ${row.batches} batches` : '') +
          (a.non2xx || a.errors ? `  non-2xx ${a.non2xx} errors ${a.errors}` : ''),
      );
    }
  }
} finally {
  await Promise.all(Object.values(apps).map((a) => a.stop()));
  await sink.stop();
  await redis?.stop();
}

const summary = Object.fromEntries(
  VARIANTS.map((v) => {
    const r = rows[v.key];
    return [
      v.key,
      {
        label: v.label,
        reqPerSec: median(r.map((x) => x.reqPerSec)),
        p50Ms: median(r.map((x) => x.p50Ms)),
        p99Ms: median(r.map((x) => x.p99Ms)),
        cpuMicrosPerRequest: median(r.map((x) => x.cpuMicrosPerRequest)),
        allEventsArrived: v.eventName ? r.every((x) => x.sinkEvents === x.ok && x.served === x.ok) : null,
      },
    ];
  }),
);
// Ratios and differences per round, then their median; the min..max across rounds shows
// how noisy each one is. (b)-(a) is what Nest charges for having any interceptor at all.
const perRound = (f) => {
  const values = rows.noop.map((b, i) => f(rows.plain[i], b, rows.tracked[i], rows.handwritten[i], rows.durable?.[i]));
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
};
const ratios = {
  trackedVsNoopReqPerSec: perRound((a, b, c) => c.reqPerSec / b.reqPerSec),
  trackedMinusNoopCpuMicrosPerRequest: perRound((a, b, c) => c.cpuMicrosPerRequest - b.cpuMicrosPerRequest),
  handwrittenVsNoopReqPerSec: perRound((a, b, c, d) => d.reqPerSec / b.reqPerSec),
  handwrittenMinusNoopCpuMicrosPerRequest: perRound((a, b, c, d) => d.cpuMicrosPerRequest - b.cpuMicrosPerRequest),
  noopVsPlainReqPerSec: perRound((a, b) => b.reqPerSec / a.reqPerSec),
  noopMinusPlainCpuMicrosPerRequest: perRound((a, b) => b.cpuMicrosPerRequest - a.cpuMicrosPerRequest),
  ...(withDurable
    ? {
        durableVsNoopReqPerSec: perRound((a, b, c, d, e) => e.reqPerSec / b.reqPerSec),
        durableMinusNoopCpuMicrosPerRequest: perRound((a, b, c, d, e) => e.cpuMicrosPerRequest - b.cpuMicrosPerRequest),
        durableVsTrackedReqPerSec: perRound((a, b, c, d, e) => e.reqPerSec / c.reqPerSec),
      }
    : {}),
};
const targets = {
  cpu: {
    target: '(c)-(b) <= 30 µs app CPU per request',
    value: ratios.trackedMinusNoopCpuMicrosPerRequest.median,
    met: ratios.trackedMinusNoopCpuMicrosPerRequest.median <= 30,
  },
  throughput: {
    target: '(c)/(b) >= 0.95x req/s',
    value: ratios.trackedVsNoopReqPerSec.median,
    met: ratios.trackedVsNoopReqPerSec.median >= 0.95,
  },
  delivery: {
    target: 'every (c) and (d) event reached the sink',
    met: summary.tracked.allEventsArrived && summary.handwritten.allEventsArrived,
  },
  ...(withDurable
    ? {
        durableDelivery: {
          target: 'every (e) durable-mode event reached the sink',
          met: summary.durable.allEventsArrived,
        },
      }
    : {}),
};

console.log(`\nhttp-overhead: medians of ${ROUNDS} rounds`);
printTable(
  ['variant', 'req/s', 'p50 ms', 'p99 ms', 'app CPU µs/req', 'all events at sink'],
  VARIANTS.map((v) => {
    const s = summary[v.key];
    return [
      s.label,
      fmt.int(s.reqPerSec),
      s.p50Ms,
      s.p99Ms,
      fmt.f1(s.cpuMicrosPerRequest),
      s.allEventsArrived === null ? '-' : s.allEventsArrived ? 'yes' : 'NO',
    ];
  }),
);
const show = (r, f) => `${f(r.median)} (rounds: ${f(r.min)} .. ${f(r.max)})`;
const x = (n) => `${fmt.f2(n)}x`;
const us = (n) => `${fmt.f1(n)} µs`;
console.log(
  `(c)/(b) req/s: ${show(ratios.trackedVsNoopReqPerSec, x)}   (c)-(b) app CPU per request: ${show(ratios.trackedMinusNoopCpuMicrosPerRequest, us)}`,
);
console.log(
  `(d)/(b) req/s: ${show(ratios.handwrittenVsNoopReqPerSec, x)}   (d)-(b) app CPU per request: ${show(ratios.handwrittenMinusNoopCpuMicrosPerRequest, us)}`,
);
console.log(
  `(b)/(a) req/s: ${show(ratios.noopVsPlainReqPerSec, x)}   (b)-(a) app CPU per request: ${show(ratios.noopMinusPlainCpuMicrosPerRequest, us)}  (any interceptor)`,
);
if (withDurable) {
  console.log(
    `(e)/(b) req/s: ${show(ratios.durableVsNoopReqPerSec, x)}   (e)-(b) app CPU per request: ${show(ratios.durableMinusNoopCpuMicrosPerRequest, us)}  (durable mode)`,
  );
  console.log(`(e)/(c) req/s: ${show(ratios.durableVsTrackedReqPerSec, x)}  (durable vs in-memory mode)`);
}
for (const t of Object.values(targets))
  console.log(`target ${t.target}: ${t.met ? 'MET' : 'MISSED'}${t.value === undefined ? '' : ` (${fmt.f2(t.value)})`}`);
const file = writeResult('http-overhead', {
  config: {
    rounds: ROUNDS,
    secondsPerVariantPerRound: SECONDS,
    slicesPerRound: SLICES,
    connections: CONNECTIONS,
    warmupSeconds: WARMUP_SECONDS,
  },
  summary,
  ratios,
  targets,
  // Figures without a target, printed by run-all after the verdicts.
  figures: withDurable
    ? [
        `(e) durable mode vs (b) no-op interceptor: ${fmt.f2(ratios.durableVsNoopReqPerSec.median)}x req/s, ${fmt.f1(ratios.durableMinusNoopCpuMicrosPerRequest.median)} µs more app CPU per request`,
      ]
    : ['(e) durable mode skipped: redis-server is not installed'],
  rounds: rows,
});
console.log(`written ${file}`);
if (failures) {
  console.error(`http-overhead: ${failures} round(s) had non-2xx answers, errors or events missing at the sink`);
  process.exitCode = 1;
}
