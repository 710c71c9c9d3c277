// bench/queue-memory: memory per queued event while Chabok is down.
//
// For each path (service.track(), which creates a promise per event, and service.capture(),
// the interceptor's fire-and-forget path) and each round, a fresh child process with
// --expose-gc tracks N events of ~150 bytes of JSON against a closed loopback port and
// reports RSS and heapUsed after full GCs, before and after. Bytes per event = delta / N.
import { compiled, startChild } from '../shared/children.mjs';
import { fmt, median, printTable, writeResult } from '../shared/report.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const EVENTS = Number(process.env.BENCH_MEMORY_EVENTS ?? 200_000);
const PATHS = ['track', 'capture'];
const TARGET_BYTES = 256;

const rows = { track: [], capture: [] };
let failures = 0;
console.log(
  `queue-memory: ${ROUNDS} rounds x ${PATHS.length} paths, ${fmt.int(EVENTS)} events held with Chabok down, a fresh process each`,
);
for (let round = 1; round <= ROUNDS; round++) {
  for (const path of PATHS) {
    const holder = await startChild(compiled('queue-memory/holder.js'), {
      args: [path, String(EVENTS)],
      execArgv: ['--expose-gc'],
      readyTimeoutMs: 120_000,
    });
    try {
      const r = holder.ready;
      const row = {
        round,
        rssBytesPerEvent: (r.after.rss - r.before.rss) / EVENTS,
        heapBytesPerEvent: (r.after.heapUsed - r.before.heapUsed) / EVENTS,
        jsonBytesPerEvent: r.heldBytes / r.held,
        held: r.held,
        delivered: r.delivered,
        dropped: r.dropped,
        failed: r.failed,
        paused: r.paused,
        rssAfterMiB: r.after.rss / 2 ** 20,
      };
      // Everything tracked (warmup included) must still be held: nothing delivered, dropped or failed.
      const ok = r.held >= EVENTS && r.delivered === 0 && r.dropped === 0 && r.failed === 0;
      if (!ok) failures++;
      rows[path].push(row);
      console.log(
        `  round ${round} ${path.padEnd(7)} RSS ${fmt.f1(row.rssBytesPerEvent).padStart(6)} B/event  heapUsed ${fmt.f1(row.heapBytesPerEvent).padStart(6)} B/event  ` +
          `(JSON ${fmt.f1(row.jsonBytesPerEvent)} B/event, ${fmt.int(r.held)} held, RSS ${fmt.int(row.rssAfterMiB)} MiB)${ok ? '' : '  <-- not all held'}`,
      );
    } finally {
      await holder.stop();
    }
  }
}

const summary = Object.fromEntries(
  PATHS.map((p) => [
    p,
    {
      rssBytesPerEvent: median(rows[p].map((r) => r.rssBytesPerEvent)),
      heapBytesPerEvent: median(rows[p].map((r) => r.heapBytesPerEvent)),
      jsonBytesPerEvent: median(rows[p].map((r) => r.jsonBytesPerEvent)),
    },
  ]),
);
const targets = Object.fromEntries(
  PATHS.map((p) => [
    p,
    {
      target: `RSS <= ${TARGET_BYTES} B per queued ~150-byte event via ${p}()`,
      value: summary[p].rssBytesPerEvent,
      met: summary[p].rssBytesPerEvent <= TARGET_BYTES,
    },
  ]),
);
console.log(`\nqueue-memory: medians of ${ROUNDS} rounds, ${fmt.int(EVENTS)} events`);
printTable(
  ['path', 'RSS B/event', 'heapUsed B/event', 'event JSON B'],
  [
    [
      'service.track() (promise per event)',
      fmt.f1(summary.track.rssBytesPerEvent),
      fmt.f1(summary.track.heapBytesPerEvent),
      fmt.f1(summary.track.jsonBytesPerEvent),
    ],
    [
      'service.capture() (interceptor path)',
      fmt.f1(summary.capture.rssBytesPerEvent),
      fmt.f1(summary.capture.heapBytesPerEvent),
      fmt.f1(summary.capture.jsonBytesPerEvent),
    ],
  ],
);
for (const t of Object.values(targets))
  console.log(`target ${t.target}: ${t.met ? 'MET' : 'MISSED'} (${fmt.f1(t.value)} B)`);
const file = writeResult('queue-memory', {
  config: { rounds: ROUNDS, events: EVENTS, targetBytesPerEvent: TARGET_BYTES },
  summary,
  targets,
  rounds: rows,
});
console.log(`written ${file}`);
if (failures) {
  console.error(`queue-memory: ${failures} run(s) did not hold every event`);
  process.exitCode = 1;
}
