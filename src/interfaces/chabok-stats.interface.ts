/**
 * Counters (since boot) and gauges (now) of the delivery pipeline. Never contains secrets.
 *
 * @example
 * const { queued, delivered, failed } = tracking.stats();
 */
export interface ChabokStats {
  /** Valid events handed to the pipeline. Each ends up delivered, failed or dropped: when idle, accepted = delivered + failed + dropped. */
  accepted: number;
  /** Events Chabok answered 2xx for. */
  delivered: number;
  /** Event sends that were retried after a transient failure. */
  retried: number;
  /** Events that finally failed: rejected, unauthorized, expired or lost at shutdown. */
  failed: number;
  /** Events dropped because the queue was full. */
  dropped: number;
  /** Events waiting to be sent (including those waiting for a retry). */
  queued: number;
  /** Bytes of JSON waiting to be sent. */
  queuedBytes: number;
  /** Events in requests that have not been answered yet. */
  inFlight: number;
  /** Requests sent to Chabok. */
  batchesSent: number;
  /** True while the pipeline backs off after failures (one probe request at a time). */
  paused: boolean;
  /** Epoch ms of the last 2xx answer, if any. */
  lastDeliveryAt: number | null;
  /** Epoch ms at which the oldest queued event was tracked, if any. */
  oldestQueuedAt: number | null;
  /** The last delivery problem, without secrets. */
  lastError: { message: string; status?: number; at: number } | null;
  /** Durable mode only: job counts in Redis (read every second) and Redis reachability. */
  durable?: {
    waiting: number;
    active: number;
    delayed: number;
    failed: number;
    redisUp: boolean;
    /** Events sent through the in-memory queue because Redis was down (onRedisDown: 'memory'). */
    fallbacks: number;
    /** Events refused because Redis was down (onRedisDown: 'reject'). */
    unavailable: number;
  };
}
