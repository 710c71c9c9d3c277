import { Inject, Injectable, Logger, type Type } from '@nestjs/common';
import { CHABOK_DELIVERY, CHABOK_LOGGER_CONTEXT, CHABOK_OPTIONS } from '../chabok.constants.js';
import type { ResolvedChabokOptions } from '../config/resolved-options.js';
import { ChabokValidationError } from '../errors/chabok-validation.error.js';
import type { ChabokViolation } from '../errors/chabok.error.js';
import type {
  ChabokEndpoint,
  TrackEventInput,
  TrackPurchaseInput,
  TrackRevenueInput,
  WireEvent,
} from '../interfaces/chabok-event.interface.js';
import type { ChabokStats } from '../interfaces/chabok-stats.interface.js';
import type { EventDelivery } from '../interfaces/event-delivery.interface.js';
import { buildWireEvent } from '../validation/build-wire-event.js';
import { KeyTypeGuard } from '../validation/key-type-guard.js';

const TRACK: ChabokEndpoint = 'installations/track';
const PURCHASE: ChabokEndpoint = 'installations/trackPurchase';
const REVENUE: ChabokEndpoint = 'installations/trackRevenue';

/**
 * Tracks events in Chabok. Every method validates first (rejecting with
 * {@link ChabokValidationError}, nothing sent), stamps `eventTime`, and queues the event.
 * The returned promise settles when Chabok accepted it, or rejects with a
 * {@link ChabokDeliveryError}; it is safe not to await it (no unhandled rejection).
 *
 * @example
 * constructor(private readonly tracking: EventTrackingService) {}
 * await this.tracking.track({ userId: '42', eventName: 'addToCart', eventData: { productId: 7 } });
 */
@Injectable()
export class EventTrackingService {
  private readonly keyTypes = new KeyTypeGuard();
  private readonly logger = new Logger(CHABOK_LOGGER_CONTEXT);
  /** Key-type warnings already logged, so each (event, key) change is reported once. */
  private readonly warnedKeys = new Set<string>();

  constructor(
    @Inject(CHABOK_OPTIONS) private readonly options: ResolvedChabokOptions,
    @Inject(CHABOK_DELIVERY) private readonly delivery: EventDelivery,
  ) {}

  /**
   * Tracks one event (`POST /installations/track`).
   *
   * @example
   * tracking.track({ installationId: 'abc', eventName: 'appOpened', eventTime: new Date() });
   */
  track<Name extends string>(event: TrackEventInput<Name>): Promise<void> {
    return this.submit(TRACK, [event]);
  }

  /**
   * Tracks several events, possibly for different users. They are validated together: if
   * any is invalid, none is queued and the error lists the violations by index.
   *
   * @example
   * tracking.trackMany([{ userId: '1', eventName: 'a' }, { installationId: 'x', eventName: 'b' }]);
   */
  trackMany(events: readonly TrackEventInput[]): Promise<void> {
    if (!Array.isArray(events))
      return rejected(new ChabokValidationError([{ path: '(events)', reason: 'must be an array' }]));
    return this.submit(TRACK, events, true);
  }

  /**
   * Tracks a named event with a revenue (`POST /installations/trackPurchase`).
   *
   * @example
   * tracking.trackPurchase({ userId: '42', eventName: 'checkout', revenue: 250000, currency: 'RIAL' });
   */
  trackPurchase<Name extends string>(event: TrackPurchaseInput<Name>): Promise<void> {
    return this.submit(PURCHASE, [event]);
  }

  /**
   * Records revenue (`POST /installations/trackRevenue`; Chabok names the event `Purchase`).
   *
   * @example
   * tracking.trackRevenue({ userId: '42', revenue: 99000, currency: 'RIAL' });
   */
  trackRevenue(event: TrackRevenueInput): Promise<void> {
    return this.submit(REVENUE, [event]);
  }

  /**
   * Resolves once everything tracked before the call was delivered or finally failed.
   *
   * @example
   * await tracking.flush(); // e.g. at the end of a batch job
   */
  flush(): Promise<void> {
    return this.options.enabled ? this.delivery.flush() : Promise.resolve();
  }

  /**
   * Counters and gauges of the delivery pipeline (no secrets).
   *
   * @example
   * const { queued, failed, lastError } = tracking.stats();
   */
  stats(): ChabokStats {
    return this.delivery.stats();
  }

  /**
   * The fire-and-forget path used by the interceptor: validates (throws on bad input) and
   * queues without creating a promise per event.
   * @internal
   */
  capture(endpoint: ChabokEndpoint, input: unknown, dataType?: Type<object>): void {
    const event = this.build(endpoint, input, Date.now(), dataType);
    this.guardKeyTypes([event]);
    if (this.options.enabled) this.delivery.enqueue(endpoint, event, false);
  }

  private submit(endpoint: ChabokEndpoint, inputs: readonly unknown[], indexed = false): Promise<void> {
    const capturedAt = Date.now();
    let events: WireEvent[];
    try {
      events = this.validateAll(endpoint, inputs, capturedAt, indexed);
      this.guardKeyTypes(events);
    } catch (error) {
      return rejected(error);
    }
    if (!this.options.enabled) return Promise.resolve();
    // Each delivery promise is already marked handled by the engine (EventDelivery's contract),
    // so a single event's is returned as is: a second .catch would cost ~150 B per held event.
    if (events.length === 1) return this.delivery.enqueue(endpoint, events[0]!, true)!;
    const all = Promise.all(events.map((event) => this.delivery.enqueue(endpoint, event, true)!)).then(() => undefined);
    all.catch(ignoreRejection); // see class doc: never an unhandled rejection
    return all;
  }

  /** Validates every input before any is queued, so a bad one never leaves half a batch sent. */
  private validateAll(
    endpoint: ChabokEndpoint,
    inputs: readonly unknown[],
    capturedAt: number,
    indexed: boolean,
  ): WireEvent[] {
    const events: WireEvent[] = [];
    const violations: ChabokViolation[] = [];
    inputs.forEach((input, i) => {
      try {
        events.push(this.build(endpoint, input, capturedAt));
      } catch (error) {
        if (!(error instanceof ChabokValidationError)) throw error;
        violations.push(
          ...(indexed
            ? error.violations.map((v) => ({ path: `[${i}].${v.path}`, reason: v.reason }))
            : error.violations),
        );
      }
    });
    if (violations.length) throw new ChabokValidationError(violations);
    return events;
  }

  /** Validates one event, against its catalogue class (or the decorator's) when it has one. */
  private build(endpoint: ChabokEndpoint, input: unknown, capturedAt: number, dataType?: Type<object>): WireEvent {
    const name = (input as { eventName?: unknown } | null)?.eventName;
    const schema = dataType ?? (typeof name === 'string' ? this.options.catalog[name] : undefined);
    return buildWireEvent(endpoint, input, capturedAt, schema);
  }

  /** Applies `keyTypeGuard`: 'reject' throws, 'warn' logs once per (event, key) change. */
  private guardKeyTypes(events: readonly WireEvent[]): void {
    if (this.options.keyTypeGuard === 'off') return;
    const conflicts = events.flatMap((event) => this.keyTypes.check(event));
    if (conflicts.length === 0) return;
    if (this.options.keyTypeGuard === 'reject') throw new ChabokValidationError(conflicts);
    for (const c of conflicts) {
      const id = `${c.path}:${c.reason}`;
      if (this.warnedKeys.size < 1_000 && !this.warnedKeys.has(id)) {
        this.warnedKeys.add(id);
        this.logger.warn(`Key type changed: ${c.path} ${c.reason}`);
      }
    }
  }
}

/** Marks a promise as handled; shared, so a held event does not keep a closure of its own alive. */
function ignoreRejection(): undefined {
  return undefined;
}

/** A rejected promise that is safe not to await: marked handled, yet still rejects for whoever awaits it. */
function rejected(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(() => undefined);
  return promise;
}
