/**
 * The loopback Chabok the benchmarks deliver to: the project's stand-in, counting accepted
 * events without keeping them (recordRequests: false), in its own process. It also counts
 * events by name, so two apps sending to it at once can each be checked.
 */
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { cpuMicros, ready, serve } from './ipc.js';

const BENCH_TOKEN = 'bench-token';
const byName: Record<string, number> = {};

const standIn = await ChabokStandIn.start({
  accessToken: BENCH_TOKEN,
  recordRequests: false,
  onEvent: ({ event }) => {
    const name = String(event.eventName);
    byName[name] = (byName[name] ?? 0) + 1;
  },
});

serve(
  {
    count: () => ({ accepted: standIn.acceptedCount, byName, cpuMicros: cpuMicros() }),
  },
  () => standIn.close(),
);
ready({ baseUrl: standIn.baseUrl, accessToken: BENCH_TOKEN });
