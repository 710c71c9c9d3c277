// The parent side of the benchmarks' IPC: fork a compiled child, wait for its "ready"
// message, send it requests, and stop it (politely, then by its pid if it hangs).
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../dist/bench/', import.meta.url));
const LIBRARY = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** Path of a compiled benchmark file, e.g. compiled('shared/sink.js'). */
export function compiled(relative) {
  return DIST + relative;
}

/**
 * Starts `script` with an IPC channel. Resolves with { ready, call, stop, child } once the
 * child sent { type: 'ready', ... }; rejects if it exits first or takes over `readyTimeoutMs`.
 * If the child died while the library's dist/ was missing (something else was rebuilding
 * it: `npm run build` starts with rm -rf dist), it waits and tries again, at most 3 times.
 */
export async function startChild(script, options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(script, options);
    } catch (error) {
      if (attempt >= 3 || existsSync(LIBRARY)) throw error;
      console.error(`(dist/ was being rebuilt while ${script} started; retrying in 5 s)`);
      await new Promise((r) => setTimeout(r, 5_000));
    }
  }
}

function startOnce(script, { args = [], execArgv = [], env = {}, readyTimeoutMs = 30_000 } = {}) {
  // BENCH_CPU_PROF=<dir>: every child writes a V8 CPU profile there when it exits
  // (summarise one with `node bench/profile-summary.mjs <file>`, or open it in Chrome DevTools).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = fork(script, args, {
    execArgv: [...execArgv, ...profile],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let nextId = 1;
  let exited = false;
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  child.on('message', (m) => {
    if (m && typeof m.id === 'number' && pending.has(m.id)) {
      const { resolve, reject, timer } = pending.get(m.id);
      pending.delete(m.id);
      clearTimeout(timer);
      if (m.ok) resolve(m.result);
      else reject(new Error(`child ${script}: ${m.error}`));
    }
  });
  void exit.then(({ code, signal }) => {
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer);
      reject(new Error(`child ${script} exited (${code ?? signal}) with a request pending`));
    }
    pending.clear();
  });

  const call = (type, payload = {}, timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`child ${script} is not running`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`child ${script}: "${type}" got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      child.send({ id, type, ...payload });
    });

  const stop = async (timeoutMs = 15_000) => {
    if (exited) return;
    if (child.connected) child.send({ type: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exit;
    clearTimeout(timer);
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(1_000);
      reject(new Error(`child ${script} was not ready within ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    child.on('message', (m) => {
      if (m && m.type === 'ready') {
        clearTimeout(timer);
        resolve({ ready: m, call, stop, child });
      }
    });
    void exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`child ${script} exited (${code ?? signal}) before it was ready`));
    });
  });
}

/** Polls `read()` until `done(value)` or `timeoutMs`; returns the last value read. Bounded. */
export async function pollUntil(read, done, { timeoutMs = 15_000, everyMs = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, everyMs));
    value = await read();
  }
  return value;
}
