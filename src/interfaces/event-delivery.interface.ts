import type { ChabokStats } from './chabok-stats.interface.js';
import type { ChabokEndpoint, WireEvent } from './chabok-event.interface.js';

/**
 * The internal port between `EventTrackingService` and whatever delivers events
 * (today the in-memory batching pipeline). Keeping it this small lets another engine
 * (e.g. a durable queue) sit behind the same public API.
 */
export interface EventDelivery {
  /**
   * Queue an event. With `settle`, returns a promise that settles when Chabok accepted it or
   * it finally failed; it must already be marked handled (a no-op catch attached), so a
   * caller who never awaits it sees no unhandled rejection.
   */
  enqueue(endpoint: ChabokEndpoint, event: WireEvent, settle: boolean): Promise<void> | undefined;
  /** Resolves once everything queued before the call is delivered or has finally failed. */
  flush(): Promise<void>;
  stats(): ChabokStats;
}

/** What one HTTP request to Chabok came back with. */
export type TransportOutcome =
  | { kind: 'response'; status: number; retryAfter?: string; body: string }
  | { kind: 'network'; code: string; message: string };

/** The wire: sends one JSON body (an object or an array of events) to one endpoint. */
export interface ChabokTransport {
  /** Never rejects: failures come back as outcomes. `signal` aborts at the end of shutdown. */
  send(endpoint: ChabokEndpoint, body: string, signal?: AbortSignal): Promise<TransportOutcome>;
  /** Releases sockets; called once, after the last send. */
  close?(): void;
}
