/**
 * Who did it: exactly one of the two ids.
 * - `userId`: your app's own user id; Chabok attributes the event to the user's last device.
 * - `installationId`: the device installation id Chabok's client SDKs report.
 *
 * @example
 * const who: ChabokIdentity = { userId: '42' };
 */
export type ChabokIdentity =
  | { userId: string | number; installationId?: never }
  | { installationId: string; userId?: never };

/** JSON values Chabok accepts inside `eventData` (Dates are turned into ISO-8601 UTC strings). */
export type EventDataValue =
  | string
  | number
  | boolean
  | null
  | Date
  | readonly EventDataValue[]
  | { readonly [key: string]: EventDataValue };

/** The properties of an event. */
export type EventData = { readonly [key: string]: EventDataValue };

/** Fields every tracked event may carry besides its identity. */
interface EventFields {
  /** When it happened. Defaults to the moment `track()` was called. Date or epoch milliseconds. */
  eventTime?: Date | number;
  /** Properties of the event: a plain object with JSON-safe values. */
  eventData?: EventData;
}

/**
 * An event for `POST /installations/track`.
 *
 * @example
 * tracking.track({ userId: '42', eventName: 'addToCart', eventData: { productId: 12345 } });
 */
export type TrackEventInput = ChabokIdentity & EventFields & { eventName: string };

/**
 * An event for `POST /installations/trackPurchase`: a named event with a revenue.
 *
 * @example
 * tracking.trackPurchase({ userId: '42', eventName: 'checkout', revenue: 120000, currency: 'RIAL' });
 */
export type TrackPurchaseInput = TrackEventInput & { revenue: number; currency?: string };

/**
 * A revenue event for `POST /installations/trackRevenue` (Chabok names it `Purchase`).
 *
 * @example
 * tracking.trackRevenue({ installationId: 'abc', revenue: 99000, currency: 'RIAL' });
 */
export type TrackRevenueInput = ChabokIdentity & EventFields & { revenue: number; currency?: string };

/** The three event endpoints, relative to the base URL. */
export type ChabokEndpoint = 'installations/track' | 'installations/trackPurchase' | 'installations/trackRevenue';

/** An event as it goes on the wire (after validation and normalisation). */
export interface WireEvent {
  installationId?: string;
  userId?: string;
  eventName?: string;
  eventTime: number;
  eventData?: Record<string, unknown>;
  revenue?: number;
  currency?: string;
}
