/**
 * The app for bench/durable-throughput: on each `run` request it builds a fresh Nest
 * application context with ChabokModule in the requested mode, tracks N events in one
 * bounded synchronous loop (a promise per event), and times
 *   ack:       until every track() promise settled (memory mode: Chabok accepted the event;
 *              durable mode: Redis holds the job),
 *   delivered: until this process's stats().delivered grew by N (memory and durable 'both'),
 * then closes the context. Modes: 'memory', 'durable' (role 'both'), 'producer' (durable,
 * role 'producer': nothing is delivered; the runner checks Redis holds N waiting jobs).
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChabokModule, EventTrackingService, type ChabokModuleOptions } from 'nestjs-chabok';
import { benchEvent } from '../shared/events.js';
import { cpuMicros, ready, serve } from '../shared/ipc.js';

const MAX_EVENTS = 200_000;
const DELIVERY_TIMEOUT_MS = 60_000;

function moduleFor(mode: string, queueName: string, port: number): new () => object {
  const delivery: ChabokModuleOptions['delivery'] =
    mode === 'memory'
      ? undefined
      : {
          mode: 'durable',
          connection: { host: '127.0.0.1', port },
          queueName,
          role: mode === 'producer' ? 'producer' : 'both',
        };
  @Module({
    imports: [
      ChabokModule.forRoot({
        baseUrl: process.env.BENCH_SINK_URL,
        accessToken: process.env.BENCH_SINK_TOKEN,
        // Room for the whole burst in both modes: this measures delivery, not the bounds.
        maxQueueSize: MAX_EVENTS,
        maxQueueBytes: 1024 * 1024 * 1024,
        ...(delivery ? { delivery } : {}),
      }),
    ],
  })
  class TrackerModule {}
  return TrackerModule;
}

serve(
  {
    run: async (m) => {
      const mode = String(m.mode);
      if (!['memory', 'durable', 'producer'].includes(mode)) throw new Error(`unknown mode "${mode}"`);
      const count = Math.min(Number(m.count), MAX_EVENTS);
      const app = await NestFactory.createApplicationContext(
        moduleFor(mode, String(m.queueName), Number(process.env.BENCH_REDIS_PORT)),
        { logger: ['error', 'warn'] },
      );
      try {
        const tracking = app.get(EventTrackingService);
        const before = tracking.stats();
        const promises: Promise<void>[] = new Array(count);
        const cpu0 = cpuMicros();
        const t0 = performance.now();
        for (let i = 0; i < count; i++) promises[i] = tracking.track(benchEvent(i));
        const tLoop = performance.now();
        const settled = await Promise.allSettled(promises);
        const tAck = performance.now();
        let tDelivered: number | null = null;
        if (mode !== 'producer') {
          const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
          while (tracking.stats().delivered - before.delivered < count && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 2));
          tDelivered = performance.now();
        }
        const cpu = cpuMicros() - cpu0;
        const after = tracking.stats();
        const rejected = settled.filter((s) => s.status === 'rejected');
        return {
          count,
          loopMs: tLoop - t0,
          ackMs: tAck - t0,
          deliveredMs: tDelivered === null ? null : tDelivered - t0,
          cpuMicros: cpu,
          rejected: rejected.length,
          firstRejection: rejected.length ? String((rejected[0] as PromiseRejectedResult).reason) : null,
          accepted: after.accepted - before.accepted,
          delivered: after.delivered - before.delivered,
          failed: after.failed - before.failed,
          dropped: after.dropped - before.dropped,
          retried: after.retried - before.retried,
          batches: after.batchesSent - before.batchesSent,
        };
      } finally {
        await app.close();
      }
    },
  },
  async () => undefined,
);
ready({});
