import { Injectable } from '@nestjs/common';
import type { ChabokEndpoint, WireEvent } from '../interfaces/chabok-event.interface.js';
import type { ChabokStats } from '../interfaces/chabok-stats.interface.js';
import type { EventDelivery } from '../interfaces/event-delivery.interface.js';

/**
 * One event the recorder saw, exactly as it would have been sent.
 *
 * @example
 * const all: RecordedEvent[] = recorder.records();
 */
export interface RecordedEvent {
  readonly endpoint: ChabokEndpoint;
  readonly event: WireEvent;
}

/**
 * A predicate or a partial event to look for.
 *
 * @example
 * await recorder.expectTracked('checkout', (e) => (e.eventData?.total as number) > 100_000);
 */
export type EventMatcher = Partial<WireEvent> | ((event: WireEvent) => boolean);

/**
 * The delivery engine of `ChabokTestingModule`: records every validated event in memory
 * instead of sending it. Events reach it after the same validation as in production, so a
 * test fails on the same bad input an app would.
 *
 * @example
 * const recorder = app.get(ChabokRecorder);
 * await request(app.getHttpServer()).post('/cart/items').set('x-user-id', '42').send({ productId: 7 });
 * await recorder.expectTracked('addToCart', { userId: '42', eventData: { productId: 7 } });
 */
@Injectable()
export class ChabokRecorder implements EventDelivery {
  private readonly recorded: RecordedEvent[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  enqueue(endpoint: ChabokEndpoint, event: WireEvent): Promise<void> {
    this.recorded.push({ endpoint, event });
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
    return Promise.resolve();
  }

  /** Every recorded event with the endpoint it was tracked for, in order. */
  records(): RecordedEvent[] {
    return [...this.recorded];
  }

  /** Every recorded event (optionally only those of one endpoint). */
  events(endpoint?: ChabokEndpoint): WireEvent[] {
    return this.recorded.filter((r) => !endpoint || r.endpoint === endpoint).map((r) => r.event);
  }

  /** Recorded events with this eventName (trackRevenue events have none: use `events()`). */
  find(eventName: string, match?: EventMatcher): WireEvent[] {
    return this.events().filter((e) => e.eventName === eventName && matches(e, match));
  }

  /**
   * Waits (default 1 s) until an event with this name (and matching fields) was recorded,
   * and returns it; otherwise rejects with a message listing what was recorded. Waiting
   * matters because `@TrackEvent()` builds its event just after the response is sent.
   */
  async expectTracked(eventName: string, match?: EventMatcher, timeoutMs = 1_000): Promise<WireEvent> {
    const found = () => this.find(eventName, match)[0];
    try {
      await this.waitFor(() => found() !== undefined, timeoutMs);
    } catch {
      throw new Error(
        `Expected a Chabok event "${eventName}"${match && typeof match === 'object' ? ` matching ${JSON.stringify(match)}` : ''}, but ${this.describe()}`,
      );
    }
    return found()!;
  }

  /** Fails if an event with this name was recorded (after letting pending interceptor work run). */
  async expectNotTracked(eventName: string, match?: EventMatcher): Promise<void> {
    await this.settle();
    if (this.find(eventName, match).length > 0)
      throw new Error(`Expected no Chabok event "${eventName}", but ${this.describe()}`);
  }

  /** Resolves when `predicate` holds, rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs = 1_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { check: predicate, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`Chabok recorder: condition not met within ${timeoutMs} ms; ${this.describe()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Lets events that `@TrackEvent()` builds after a response (on the next tick) arrive. */
  settle(): Promise<void> {
    return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
  }

  /** Forgets everything recorded; call it in beforeEach/afterEach. */
  reset(): void {
    this.recorded.length = 0;
  }

  flush(): Promise<void> {
    return this.settle();
  }

  stats(): ChabokStats {
    const n = this.recorded.length;
    return {
      accepted: n,
      delivered: n,
      retried: 0,
      failed: 0,
      dropped: 0,
      queued: 0,
      queuedBytes: 0,
      inFlight: 0,
      batchesSent: 0,
      paused: false,
      lastDeliveryAt: null,
      oldestQueuedAt: null,
      lastError: null,
    };
  }

  private describe(): string {
    if (this.recorded.length === 0) return 'no events were recorded.';
    const lines = this.recorded.map((r) => `  - ${r.endpoint}: ${JSON.stringify(r.event)}`);
    return `these ${this.recorded.length} were recorded:\n${lines.join('\n')}`;
  }
}

function matches(event: WireEvent, match: EventMatcher | undefined): boolean {
  if (!match) return true;
  if (typeof match === 'function') return match(event);
  return isSubset(match, event);
}

/** Deep partial match: every key in `expected` equals (recursively) the same key in `actual`. */
function isSubset(expected: unknown, actual: unknown): boolean {
  if (expected === actual) return true;
  if (typeof expected !== 'object' || expected === null || typeof actual !== 'object' || actual === null) return false;
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) && expected.length === actual.length && expected.every((v, i) => isSubset(v, actual[i]))
    );
  }
  return Object.entries(expected).every(([k, v]) => isSubset(v, (actual as Record<string, unknown>)[k]));
}
