/**
 * The child of bench/queue-memory, started fresh with --expose-gc for each measurement:
 * ChabokModule pointed at a closed loopback port (Chabok down), with retry delays so long
 * that nothing drains and room for every event. It tracks N events through one path and
 * reports RSS and heapUsed (after full GCs) before and after, and what the pipeline holds.
 *   argv[2]: 'track'   (service.track(): one promise per event, not awaited)
 *            'capture' (service.capture(): the interceptor's fire-and-forget path)
 *   argv[3]: N
 */
import 'reflect-metadata';
import { createServer } from 'node:net';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChabokModule, EventTrackingService } from 'nestjs-chabok';
import { benchEvent } from '../shared/events.js';
import { ready, serve } from '../shared/ipc.js';

const path = process.argv[2] === 'capture' ? 'capture' : 'track';
const count = Math.min(Number(process.argv[3] ?? 200_000), 2_000_000);
const WARMUP = 2_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('start this child with --expose-gc');

/** A loopback port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 200));
}

function memory(): { rss: number; heapUsed: number } {
  for (let i = 0; i < 4; i++) gc!();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

@Module({
  imports: [
    ChabokModule.forRoot({
      baseUrl: `http://127.0.0.1:${await closedPort()}/api`,
      accessToken: 'bench-token',
      maxQueueSize: 10_000_000,
      maxQueueBytes: 4 * 1024 * 1024 * 1024,
      retryBaseDelayMs: 600_000,
      retryMaxDelayMs: 600_000,
      deliveryDeadlineMs: 24 * 3_600_000,
      shutdownTimeoutMs: 0,
    }),
  ],
})
class HolderModule {}

// logger: false: the outage's warnings and the shutdown's "not delivered" line are expected here.
const app = await NestFactory.createApplicationContext(HolderModule, { logger: false });
const tracking = app.get(EventTrackingService);
const track = (i: number) => {
  if (path === 'track') void tracking.track(benchEvent(i));
  else tracking.capture('installations/track', benchEvent(i));
};

// Warm up the code path and let the first send fail (connection refused), so the pipeline
// is paused for retryBaseDelayMs and the baseline already includes a paused pipeline.
for (let i = 0; i < WARMUP; i++) track(i);
await settle();
const before = memory();
for (let i = 0; i < count; i++) track(WARMUP + i);
await settle();
const after = memory();
const stats = tracking.stats();

serve({}, () => app.close());
ready({
  path,
  count,
  before,
  after,
  held: stats.queued + stats.inFlight,
  heldBytes: stats.queuedBytes,
  delivered: stats.delivered,
  dropped: stats.dropped,
  failed: stats.failed,
  paused: stats.paused,
});
