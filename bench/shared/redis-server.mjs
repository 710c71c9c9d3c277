// A throwaway redis-server for the durable-mode benchmarks (plain-JS twin of
// test/support/redis-server.ts): Debian's /usr/bin/redis-server on a free 127.0.0.1 port,
// persistence off, stopped by its own pid. `available()` says whether it is installed.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';

const BINARY = process.env.BENCH_REDIS_SERVER ?? 'redis-server';
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Whether redis-server can be run here (durable benchmarks are skipped otherwise). */
export function redisAvailable() {
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  return r.status === 0;
}

/**
 * Starts redis-server; resolves with { port, connection, version, cpuMicros(), stop() } once
 * it answers PING. cpuMicros() is the server's CPU time so far (user + system, from
 * /proc/<pid>/stat, so in clock ticks: 10 ms steps).
 */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    BINARY,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = false;
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  const stop = async () => {
    if (exited) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.kill('SIGTERM');
    await exit;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const version = spawnSync(BINARY, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const cpuMicros = () => {
    // Fields after the command name: state is the 1st, utime the 12th, stime the 13th.
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS;
  };
  return { port, connection: { host: '127.0.0.1', port }, version, cpuMicros, stop };
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1_000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
