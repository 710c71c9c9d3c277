// `npm run bench`: builds the library (npm script), compiles the benchmark apps and the
// stand-in (bench/tsconfig.json -> bench/dist), then runs each benchmark in its own process,
// one after the other, and prints every target's verdict. Results: .bench-results/*.json.
// Knobs (environment): BENCH_ROUNDS (default 5), BENCH_SECONDS (http-overhead round length,
// default 5), BENCH_EVENTS (delivery-throughput, default 200000), BENCH_MEMORY_EVENTS
// (queue-memory, default 200000), BENCH_DURABLE_EVENTS (durable-throughput, default 20000),
// BENCH_ONLY=<name> to run one benchmark. The durable-mode parts (durable-throughput, variant
// (e) of http-overhead) start a throwaway redis-server, and are skipped when it is not installed.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machine } from './shared/report.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCHMARKS = ['http-overhead', 'delivery-throughput', 'queue-memory', 'durable-throughput'];
const only = process.env.BENCH_ONLY;
const selected = only ? BENCHMARKS.filter((b) => b === only) : BENCHMARKS;
if (selected.length === 0) throw new Error(`BENCH_ONLY=${only}: not one of ${BENCHMARKS.join(', ')}`);

const run = (args, timeoutMs) =>
  spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', timeout: timeoutMs, killSignal: 'SIGKILL' });

const m = machine();
console.log(`machine: ${m.nproc} CPUs (${m.cpu}), Node ${m.node}, load average ${m.loadAverage1m5m15m.join(' ')}`);
rmSync(`${ROOT}bench/dist`, { recursive: true, force: true });
const tsc = run(['node_modules/typescript/bin/tsc', '-p', 'bench/tsconfig.json'], 120_000);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const started = Date.now();
const failed = [];
for (const name of selected) {
  console.log(`\n=== ${name} ===`);
  const t0 = Date.now();
  const r = run([`bench/${name}/run.mjs`], 10 * 60_000); // a hung benchmark is killed
  console.log(
    `=== ${name}: ${r.status === 0 ? 'done' : `FAILED (${r.status ?? r.signal})`} in ${Math.round((Date.now() - t0) / 1000)} s ===`,
  );
  if (r.status !== 0) failed.push(name);
}

console.log(
  `\nTargets (${Math.round((Date.now() - started) / 1000)} s in all; load average now ${machine().loadAverage1m5m15m.join(' ')}):`,
);
for (const name of selected) {
  let result;
  try {
    result = JSON.parse(readFileSync(`${ROOT}.bench-results/${name}.json`, 'utf8'));
  } catch {
    console.log(`  ${name}: no result file`);
    continue;
  }
  for (const t of Object.values(result.targets ?? {})) {
    const value = typeof t.value === 'number' ? ` (${Number(t.value.toFixed(2)).toLocaleString('en-US')})` : '';
    console.log(`  ${name}: ${t.target}: ${t.met ? 'MET' : 'MISSED'}${value}`);
  }
  for (const line of result.figures ?? []) console.log(`  ${name}: ${line}`);
}
if (failed.length) {
  console.error(`\nbenchmark(s) with lost events or errors: ${failed.join(', ')}`);
  process.exitCode = 1;
}
