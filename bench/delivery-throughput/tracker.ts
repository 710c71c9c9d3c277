/**
 * The producer for bench/delivery-throughput: a Nest application context with
 * ChabokModule, asked by the runner to track N events in a bounded loop and flush.
 * Modes (argv[2]):
 *   deliver   enabled, events go to the sink
 *   disabled  enabled: false, so track() only validates (the cost of building the event)
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChabokModule, EventTrackingService } from 'nestjs-chabok';
import { benchEvent } from '../shared/events.js';
import { cpuMicros, ready, serve } from '../shared/ipc.js';

const mode = process.argv[2];
const MAX_EVENTS = 2_000_000;

@Module({
  imports: [
    ChabokModule.forRoot({
      baseUrl: process.env.BENCH_SINK_URL,
      accessToken: process.env.BENCH_SINK_TOKEN,
      enabled: mode === 'deliver',
      // Room for the whole burst: this measures delivery, not the overflow policy.
      maxQueueSize: MAX_EVENTS,
      maxQueueBytes: 1024 * 1024 * 1024,
    }),
  ],
})
class TrackerModule {}

const app = await NestFactory.createApplicationContext(TrackerModule, { logger: ['error', 'warn'] });
const tracking = app.get(EventTrackingService);

serve(
  {
    /** `path`: 'track' (a promise per event, not awaited) or 'capture' (the interceptor's path). */
    run: async (m) => {
      const count = Math.min(Number(m.count), MAX_EVENTS);
      const path = m.path === 'capture' ? 'capture' : 'track';
      const before = tracking.stats();
      const cpu0 = cpuMicros();
      const t0 = performance.now();
      if (path === 'track') {
        for (let i = 0; i < count; i++) void tracking.track(benchEvent(i));
      } else {
        for (let i = 0; i < count; i++) tracking.capture('installations/track', benchEvent(i));
      }
      const t1 = performance.now();
      await tracking.flush();
      const t2 = performance.now();
      const after = tracking.stats();
      return {
        count,
        trackMs: t1 - t0,
        drainMs: t2 - t1,
        cpuMicros: cpuMicros() - cpu0,
        delivered: after.delivered - before.delivered,
        failed: after.failed - before.failed,
        dropped: after.dropped - before.dropped,
        retried: after.retried - before.retried,
        batches: after.batchesSent - before.batchesSent,
      };
    },
  },
  () => app.close(),
);
ready({ mode });
