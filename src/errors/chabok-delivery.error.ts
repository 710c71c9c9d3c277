import { ChabokError } from './chabok.error.js';

/**
 * Why an accepted event was finally not delivered.
 * - `rejected`: Chabok answered with a permanent 4xx for it.
 * - `unauthorized`: Chabok answered 401/403: the access token or app id is wrong.
 * - `expired`: transient failures went on past `deliveryDeadlineMs`.
 * - `dropped`: the queue was full (see `overflow`).
 * - `shutdown`: the app shut down before it could be delivered within `shutdownTimeoutMs`.
 * - `unavailable`: durable mode only: Redis could not take the event (`onRedisDown: 'reject'`).
 *
 * @example
 * onError: (f) => { if (f.error.reason === 'dropped') metrics.increment('chabok.dropped', f.events.length); }
 */
export type ChabokDeliveryFailureReason =
  'rejected' | 'unauthorized' | 'expired' | 'dropped' | 'shutdown' | 'unavailable';

/**
 * The promise returned by `track()` rejects with this when the event was accepted but
 * not delivered. It carries Chabok's answer when there was one, never the access token.
 *
 * @example
 * await tracking.track(event).catch((e) => {
 *   if (e instanceof ChabokDeliveryError && e.reason === 'rejected') logger.warn(e.status, e.responseBody);
 * });
 */
export class ChabokDeliveryError extends ChabokError {
  readonly code = 'CHABOK_DELIVERY_FAILED';

  constructor(
    readonly reason: ChabokDeliveryFailureReason,
    message: string,
    /** HTTP status of Chabok's answer, when there was one. */
    readonly status?: number,
    /** Chabok's response body (truncated), when there was one. */
    readonly responseBody?: string,
  ) {
    super(message);
  }
}
