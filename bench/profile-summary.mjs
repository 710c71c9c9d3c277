// Summarises a V8 .cpuprofile (from node --cpu-prof): the functions with the most self
// time, and with the most total time (self + callees), as a share of the profile.
//   node bench/profile-summary.mjs <file.cpuprofile> [top=25] [filter]
// `filter` keeps only samples whose stack contains a function whose name or file matches it
// (e.g. "capture" to look at the tracking loop only).
import { readFileSync } from 'node:fs';

const [file, topArg, filter] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top] [filter]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? `${url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map();
const total = new Map();
let all = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const leaf = byId.get(profile.samples[i]);
  const stack = [];
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) stack.push(label(byId.get(id)));
  if (filter && !stack.some((s) => s.includes(filter))) continue;
  all += dt;
  self.set(stack[0], (self.get(stack[0]) ?? 0) + dt);
  for (const key of new Set(stack)) total.set(key, (total.get(key) ?? 0) + dt);
}

const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * us) / all).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
  }
};
console.log(`${file}: ${(all / 1000).toFixed(0)} ms sampled${filter ? ` (stacks containing "${filter}")` : ''}`);
show('self time', self);
show('total time (self + callees)', total);
