import type { ChabokDeliveryError } from '../errors/chabok-delivery.error.js';
import type { ChabokEndpoint, WireEvent } from './chabok-event.interface.js';

/**
 * What the `onError` hook receives: one failure and the events it affected.
 *
 * @example
 * ChabokModule.forRoot({ ..., onError: (f) => metrics.increment(`chabok.${f.error.reason}`, f.events.length) })
 */
export interface ChabokFailure {
  readonly endpoint: ChabokEndpoint;
  readonly error: ChabokDeliveryError;
  /** The affected events, exactly as they were (or would have been) sent. */
  readonly events: readonly WireEvent[];
}
