// bench/durable-throughput: events per second, end to end to a loopback sink, in the
// in-memory mode against the durable mode (BullMQ on a throwaway local redis-server), and
// what a durable producer alone gets acknowledged.
//
// One child process (tracker.ts) builds a fresh Nest application context for every run, with
// a fresh queue name in durable mode. Each round runs, with the same event and the same N:
//   memory    default delivery; time until stats().delivered grew by N (track() resolves on delivery)
//   durable   delivery: { mode: 'durable', role: 'both' }: the same process queues and delivers;
//             time until its worker delivered N
//   producer  role: 'producer': time until every track() promise resolved (Redis acknowledged);
//             nothing is delivered, the runner checks Redis holds N waiting jobs
// Every round checks the sink received exactly N (memory, durable) and nothing was rejected,
// failed or dropped. redis-server is stopped at the end, whatever happened.
import { Queue } from 'bullmq';
import { compiled, pollUntil, startChild } from '../shared/children.mjs';
import { redisAvailable, startRedis } from '../shared/redis-server.mjs';
import { fmt, median, printTable, writeResult } from '../shared/report.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const EVENTS = Number(process.env.BENCH_DURABLE_EVENTS ?? 20_000);
const WARMUP_EVENTS = 2_000;
const MODES = [
  { key: 'memory', label: 'in-memory mode: track() until delivered' },
  { key: 'durable', label: "durable, role 'both': tracked until delivered" },
  { key: 'producer', label: "durable, role 'producer': track() acknowledged" },
];

if (!redisAvailable()) {
  console.log('durable-throughput: SKIPPED: redis-server is not installed (apt-get install redis-server)');
  writeResult('durable-throughput', {
    skipped: 'redis-server not installed',
    figures: ['skipped: redis-server is not installed'],
  });
  process.exit(0);
}

const redis = await startRedis();
const sink = await startChild(compiled('shared/sink.js')).catch(async (error) => {
  await redis.stop(); // no redis-server outlives the run
  throw error;
});
let tracker;
const rows = Object.fromEntries(MODES.map((m) => [m.key, []]));
let failures = 0;
let queueSeq = 0;

/** Job counts of one queue, read straight from Redis. */
async function jobCounts(queueName) {
  const q = new Queue(queueName, { connection: redis.connection });
  try {
    return await q.getJobCounts('wait', 'active', 'delayed', 'failed', 'completed');
  } finally {
    await q.close();
  }
}

async function runOnce(mode, count) {
  const queueName = `bench-${process.pid}-${++queueSeq}`;
  const sinkBefore = (await sink.call('count')).accepted;
  const redisCpu0 = redis.cpuMicros();
  const r = await tracker.call('run', { mode, count, queueName }, 180_000);
  const redisCpuMicros = redis.cpuMicros() - redisCpu0;
  let atSink = 0;
  let redisCounts = null;
  if (mode === 'producer') {
    redisCounts = await jobCounts(queueName);
  } else {
    atSink =
      (await pollUntil(
        async () => (await sink.call('count')).accepted,
        (n) => n - sinkBefore >= count,
      )) - sinkBefore;
    if (mode === 'durable') redisCounts = await jobCounts(queueName);
  }
  // Nothing left behind in Redis either: completed jobs are removed, none waits or failed.
  const redisEmpty = (c) => c.wait + c.active + c.delayed + c.failed === 0;
  const ok =
    r.rejected === 0 &&
    r.failed === 0 &&
    r.dropped === 0 &&
    r.accepted === count &&
    (mode === 'producer'
      ? redisCounts.wait === count
      : atSink === count && r.delivered === count && (mode === 'memory' || redisEmpty(redisCounts)));
  return { ...r, queueName, atSink, redisCounts, redisCpuMicros, ok };
}

try {
  tracker = await startChild(compiled('durable-throughput/tracker.js'), {
    env: {
      BENCH_SINK_URL: sink.ready.baseUrl,
      BENCH_SINK_TOKEN: sink.ready.accessToken,
      BENCH_REDIS_PORT: String(redis.port),
    },
  });
  console.log(
    `durable-throughput: ${ROUNDS} rounds of ${fmt.int(EVENTS)} events per mode (warmup ${fmt.int(WARMUP_EVENTS)}), ${redis.version.split(' ').slice(0, 3).join(' ')} on 127.0.0.1:${redis.port}`,
  );
  for (const m of MODES) {
    const w = await runOnce(m.key, WARMUP_EVENTS);
    if (!w.ok) throw new Error(`warmup ${m.key} lost events: ${JSON.stringify(w)}`);
  }

  for (let round = 1; round <= ROUNDS; round++) {
    for (const m of MODES) {
      const r = await runOnce(m.key, EVENTS);
      const endMs = m.key === 'producer' ? r.ackMs : r.deliveredMs;
      const row = {
        round,
        ...r,
        eventsPerSec: EVENTS / (endMs / 1000),
        ackEventsPerSec: EVENTS / (r.ackMs / 1000),
        loopMicrosPerEvent: (r.loopMs * 1000) / EVENTS,
        cpuMicrosPerEvent: r.cpuMicros / EVENTS,
        // redis-server's CPU over the whole run (app start and close included; 10 ms steps).
        redisCpuMicrosPerEvent: r.redisCpuMicros / EVENTS,
      };
      if (!r.ok) failures++;
      rows[m.key].push(row);
      const check =
        m.key === 'producer'
          ? `Redis holds ${r.redisCounts.wait} waiting`
          : `at sink ${r.atSink} in ${r.batches} batches`;
      console.log(
        `  round ${round} ${m.key.padEnd(8)} ${fmt.int(row.eventsPerSec).padStart(8)} events/s  ` +
          `loop ${fmt.int(r.loopMs)} ms  acknowledged ${fmt.int(r.ackMs)} ms` +
          (r.deliveredMs === null ? '' : `  delivered ${fmt.int(r.deliveredMs)} ms`) +
          `  ${fmt.f1(row.cpuMicrosPerEvent)} µs CPU/event (redis-server ${fmt.f1(row.redisCpuMicrosPerEvent)})  ${check}` +
          (r.retried ? `  (${r.retried} retried)` : '') +
          (r.ok
            ? ''
            : `  <-- MISMATCH (rejected ${r.rejected} failed ${r.failed} dropped ${r.dropped} accepted ${r.accepted} ${r.firstRejection ?? ''} redis ${JSON.stringify(r.redisCounts)})`),
      );
    }
  }
} finally {
  await tracker?.stop();
  await sink.stop();
  await redis.stop();
}

const summary = Object.fromEntries(
  MODES.map((m) => {
    const r = rows[m.key];
    const med = (k) => median(r.map((x) => x[k]));
    return [
      m.key,
      {
        label: m.label,
        eventsPerSec: med('eventsPerSec'),
        ackEventsPerSec: med('ackEventsPerSec'),
        loopMicrosPerEvent: med('loopMicrosPerEvent'),
        cpuMicrosPerEvent: med('cpuMicrosPerEvent'),
        redisCpuMicrosPerEvent: med('redisCpuMicrosPerEvent'),
        allArrived: r.every((x) => x.ok),
      },
    ];
  }),
);
const perRound = (f) => {
  const values = rows.memory.map((mem, i) => f(mem, rows.durable[i], rows.producer[i]));
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
};
const ratios = {
  durableVsMemoryEventsPerSec: perRound((mem, d) => d.eventsPerSec / mem.eventsPerSec),
  producerVsMemoryEventsPerSec: perRound((mem, d, p) => p.eventsPerSec / mem.eventsPerSec),
  durableMinusMemoryCpuMicrosPerEvent: perRound((mem, d) => d.cpuMicrosPerEvent - mem.cpuMicrosPerEvent),
};
// No numeric target for durable mode: the ratios are reported; losing an event is a failure.
const targets = {
  delivery: {
    target: 'every event reached the sink (memory, durable) or Redis (producer)',
    met: MODES.every((m) => summary[m.key].allArrived),
  },
};

console.log(`\ndurable-throughput: medians of ${ROUNDS} rounds, ${fmt.int(EVENTS)} events each`);
printTable(
  [
    'mode',
    'events/s',
    'track() acknowledged/s',
    'loop µs/event',
    'process CPU µs/event',
    'redis-server CPU µs/event',
    'all arrived',
  ],
  MODES.map((m) => {
    const s = summary[m.key];
    return [
      s.label,
      fmt.int(s.eventsPerSec),
      fmt.int(s.ackEventsPerSec),
      fmt.f2(s.loopMicrosPerEvent),
      fmt.f1(s.cpuMicrosPerEvent),
      fmt.f1(s.redisCpuMicrosPerEvent),
      s.allArrived ? 'yes' : 'NO',
    ];
  }),
);
const show = (r, f) => `${f(r.median)} (rounds: ${f(r.min)} .. ${f(r.max)})`;
const x = (n) => `${n.toFixed(3)}x`;
console.log(`durable/memory events/s end to end: ${show(ratios.durableVsMemoryEventsPerSec, x)}`);
console.log(`producer acknowledged/memory delivered: ${show(ratios.producerVsMemoryEventsPerSec, x)}`);
console.log(
  `durable-memory process CPU per event: ${show(ratios.durableMinusMemoryCpuMicrosPerEvent, (n) => `${fmt.f1(n)} µs`)}`,
);
for (const t of Object.values(targets)) console.log(`target ${t.target}: ${t.met ? 'MET' : 'MISSED'}`);
const file = writeResult('durable-throughput', {
  config: { rounds: ROUNDS, events: EVENTS, warmupEvents: WARMUP_EVENTS, redis: redis.version },
  summary,
  ratios,
  targets,
  // Figures without a target, printed by run-all after the verdicts.
  figures: [
    `durable (role 'both') vs in-memory, events/s end to end: ${ratios.durableVsMemoryEventsPerSec.median.toFixed(3)}x (${fmt.int(summary.durable.eventsPerSec)} vs ${fmt.int(summary.memory.eventsPerSec)})`,
    `durable producer alone, track() acknowledged: ${fmt.int(summary.producer.eventsPerSec)} events/s (${ratios.producerVsMemoryEventsPerSec.median.toFixed(3)}x in-memory)`,
  ],
  rounds: rows,
});
console.log(`written ${file}`);
if (failures) {
  console.error(`durable-throughput: ${failures} round(s) lost, rejected, failed or dropped events`);
  process.exitCode = 1;
}
