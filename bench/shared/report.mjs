// Figures and files every benchmark shares: medians, the machine, and the JSON result.
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const RESULTS_DIR = fileURLToPath(new URL('../../.bench-results/', import.meta.url));

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  // The load average says how busy the machine was (other work competes for the same cores).
  const load = loadavg().map((x) => Number(x.toFixed(2)));
  return {
    nproc: Number(execSync('nproc').toString().trim()),
    node: process.version,
    cpu: model,
    loadAverage1m5m15m: load,
  };
}

/** Writes .bench-results/<name>.json and returns its path. */
export function writeResult(name, data) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${name}.json`;
  writeFileSync(
    file,
    JSON.stringify({ benchmark: name, at: new Date().toISOString(), machine: machine(), ...data }, null, 2) + '\n',
  );
  return file;
}

/** Prints rows (arrays of cells) as an aligned plain-text table. */
export function printTable(header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(all[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of all.slice(1)) console.log(line(r));
}

export const fmt = {
  int: (n) => Math.round(n).toLocaleString('en-US'),
  f1: (n) => n.toFixed(1),
  f2: (n) => n.toFixed(2),
};
