import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { EventTrackingService } from '../services/event-tracking.service.js';

/**
 * When the indicator reports `down`.
 *
 * @example
 * this.chabok.isHealthy('chabok', { maxQueued: 5_000, maxQueueAgeMs: 60_000 });
 */
export interface ChabokHealthThresholds {
  /** Down when this many events are waiting (in memory, or in Redis in durable mode). Default 10000. */
  maxQueued?: number;
  /** Down when the oldest waiting event is older than this. Default 120000 ms (2 min). */
  maxQueueAgeMs?: number;
}

const DEFAULT_THRESHOLDS: Required<ChabokHealthThresholds> = { maxQueued: 10_000, maxQueueAgeMs: 120_000 };

/**
 * A @nestjs/terminus (11+) health indicator for the delivery pipeline. It reports queue
 * depth, the age of the oldest queued event, the last successful delivery and whether the
 * pipeline is paused by failures. It is `down` when the queue is deeper than `maxQueued`
 * or its oldest event is older than `maxQueueAgeMs`: both mean events are piling up
 * faster than Chabok takes them. A short pause (a few failed requests) alone stays `up`.
 * In durable mode it also reports the Redis queue (waiting, active, delayed, failed jobs)
 * and is `down` while Redis is unreachable or more than `maxQueued` jobs wait there.
 * Import it from `nestjs-chabok/health`, so apps without terminus never load it.
 *
 * @example
 * @Controller('health')
 * class HealthController {
 *   constructor(private health: HealthCheckService, private chabok: ChabokHealthIndicator) {}
 *   @Get() @HealthCheck() check() { return this.health.check([() => this.chabok.isHealthy('chabok')]); }
 * }
 */
@Injectable()
export class ChabokHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly tracking: EventTrackingService,
  ) {}

  isHealthy<const Key extends string = 'chabok'>(
    key: Key = 'chabok' as Key,
    thresholds: ChabokHealthThresholds = {},
  ): HealthIndicatorResult<Key> {
    // `??`, not a spread: `{ maxQueued: undefined }` (an unset config value) keeps the default instead of disabling the check.
    const limits = {
      maxQueued: thresholds.maxQueued ?? DEFAULT_THRESHOLDS.maxQueued,
      maxQueueAgeMs: thresholds.maxQueueAgeMs ?? DEFAULT_THRESHOLDS.maxQueueAgeMs,
    };
    const stats = this.tracking.stats();
    const now = Date.now();
    const oldestQueuedAgeMs = stats.oldestQueuedAt === null ? 0 : now - stats.oldestQueuedAt;
    const data = {
      queued: stats.queued,
      inFlight: stats.inFlight,
      oldestQueuedAgeMs,
      lastDeliveryAt: stats.lastDeliveryAt === null ? null : new Date(stats.lastDeliveryAt).toISOString(),
      paused: stats.paused,
      failed: stats.failed,
      dropped: stats.dropped,
      // Durable mode: the shared queue in Redis (counts refreshed every second).
      ...(stats.durable && {
        redis: {
          up: stats.durable.redisUp,
          waiting: stats.durable.waiting,
          active: stats.durable.active,
          delayed: stats.durable.delayed,
          failedJobs: stats.durable.failed,
        },
      }),
    };
    const session = this.health.check(key);
    if (stats.durable && !stats.durable.redisUp) return session.down({ ...data, reason: 'Redis is unreachable' });
    const redisWaiting = stats.durable ? stats.durable.waiting + stats.durable.delayed : 0;
    if (redisWaiting > limits.maxQueued)
      return session.down({ ...data, reason: `more than ${limits.maxQueued} events waiting in Redis` });
    if (stats.queued > limits.maxQueued)
      return session.down({ ...data, reason: `more than ${limits.maxQueued} events queued` });
    if (oldestQueuedAgeMs > limits.maxQueueAgeMs)
      return session.down({ ...data, reason: `oldest queued event is older than ${limits.maxQueueAgeMs} ms` });
    return session.up(data);
  }
}
