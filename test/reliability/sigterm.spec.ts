/**
 * SIGTERM during load: a real Nest HTTP app (test/fixtures/sigterm-app.ts, run from its
 * build in a child process, with app.enableShutdownHooks()) is stopped while requests are
 * still arriving. Every event the app acknowledged must reach Chabok, and the process must
 * end by itself: exit code 0, no SIGKILL, nothing left holding its event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { post } from '../support/post.js';
import { SECRET_TOKEN, startStandIn, within } from '../support/reliability-harness.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/dist/sigterm-app.js', import.meta.url));
const TOTAL_REQUESTS = 400;
const CONCURRENCY = 8;
const SIGTERM_AFTER_ACKS = 120;
const EXIT_BOUND_MS = 15_000;

type Kind = 'orders' | 'visits';

interface Child {
  readonly process: ChildProcess;
  readonly port: number;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the fixture app against the stand-in and waits until it listens. */
async function startChild(standIn: ChabokStandIn): Promise<Child> {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, CHABOK_BASE_URL: standIn.baseUrl, CHABOK_ACCESS_TOKEN: SECRET_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await within(
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const line = stdout.split('\n').find((l) => l.startsWith('{"listening"'));
        if (line) resolve((JSON.parse(line) as { listening: number }).listening);
      };
      child.stdout!.on('data', check);
      void exited.then(({ code }) => reject(new Error(`sigterm-app exited (${code}) before listening:\n${stderr}`)));
    }),
    15_000,
    'sigterm-app start',
  );
  return { process: child, port, output: () => `${stdout}\n${stderr}`, exited };
}

describe('SIGTERM while the app is under load', () => {
  let standIn: ChabokStandIn;
  let child: Child | undefined;

  beforeAll(async () => {
    if (!existsSync(FIXTURE))
      throw new Error(`${FIXTURE} is missing: run \`npm run build && npm run build:fixtures\` first`);
    standIn = await startStandIn();
  });

  afterEach(() => {
    // Only if the test failed before the child exited by itself.
    if (child && child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    child = undefined;
  });

  afterAll(async () => {
    await standIn.close();
  });

  it('delivers every acknowledged event, then exits by itself with code 0', async () => {
    standIn.fault = () => ({ delayMs: 20 }); // a Chabok with some latency, so events are queued at SIGTERM
    child = await startChild(standIn);
    const { port } = child;

    const acknowledged: { kind: Kind; seq: number }[] = [];
    let inFlight = 0;
    let inFlightAtSigterm = -1;
    let next = 0;
    const worker = async () => {
      while (next < TOTAL_REQUESTS) {
        const seq = next++;
        const kind: Kind = seq % 2 === 0 ? 'orders' : 'visits';
        inFlight++;
        const status = await post(port, `/${kind}/${seq}`, {
          headers: { 'x-chabok-installation-id': `device-${seq}` },
        });
        inFlight--;
        if (status === 200) acknowledged.push({ kind, seq });
        if (acknowledged.length >= SIGTERM_AFTER_ACKS && inFlightAtSigterm < 0) {
          inFlightAtSigterm = inFlight;
          child!.process.kill('SIGTERM');
        }
      }
    };
    await within(Promise.all(Array.from({ length: CONCURRENCY }, worker)), 30_000, 'the load');
    const exit = await within(child.exited, EXIT_BOUND_MS, 'the child exiting by itself after SIGTERM');

    // It ended by itself, cleanly.
    expect(exit).toEqual({ code: 0, signal: null });
    // SIGTERM came while requests were in flight, and the load went on past it.
    expect(inFlightAtSigterm).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThanOrEqual(SIGTERM_AFTER_ACKS);
    expect(acknowledged.length).toBeLessThan(TOTAL_REQUESTS);

    // Every acknowledged event reached Chabok, exactly once.
    const arrived = new Map<string, number>();
    for (const event of standIn.events('track')) {
      const seq = (event.eventData as { seq: number }).seq;
      const kind: Kind | undefined =
        event.eventName === 'orderPlaced' && event.installationId === `device-${seq}`
          ? 'orders'
          : event.eventName === 'pageVisited' && event.userId === `visitor-${seq}`
            ? 'visits'
            : undefined;
      const key = `${kind ?? `unexpected ${JSON.stringify(event)}`}/${seq}`;
      arrived.set(key, (arrived.get(key) ?? 0) + 1);
    }
    const lost = acknowledged.map((a) => `${a.kind}/${a.seq}`).filter((key) => !arrived.has(key));
    expect(lost).toEqual([]);
    expect([...arrived].filter(([key, n]) => n > 1 || key.startsWith('unexpected'))).toEqual([]);

    // The library's own account at exit: nothing left, nothing failed; the token never printed.
    const output = child.output();
    const statsLine = output.split('\n').find((l) => l.startsWith('{"exitStats"'));
    expect(statsLine).toBeDefined();
    const stats = (JSON.parse(statsLine!) as { exitStats: Record<string, number> }).exitStats;
    expect(stats).toMatchObject({ queued: 0, inFlight: 0, failed: 0, dropped: 0, delivered: standIn.acceptedCount });
    expect(output).not.toMatch(/chabok failure/);
    expect(output.includes(SECRET_TOKEN)).toBe(false);
  }, 60_000);
});
