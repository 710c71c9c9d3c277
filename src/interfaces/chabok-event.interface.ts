/**
 * Who did it: exactly one of the two ids.
 * - `userId`: your app's own user id; Chabok attributes the event to the user's last device.
 * - `installationId`: the device installation id Chabok's client SDKs report.
 *
 * @example
 * const who: ChabokIdentity = { userId: '42' };
 */
export type ChabokIdentity =
  { userId: string | number; installationId?: never } | { installationId: string; userId?: never };

/**
 * JSON values Chabok accepts inside `eventData` (Dates are turned into ISO-8601 UTC strings).
 *
 * @example
 * const v: EventDataValue = ['red', 'blue'];
 */
export type EventDataValue =
  string | number | boolean | null | Date | readonly EventDataValue[] | { readonly [key: string]: EventDataValue };

/**
 * The properties of an event.
 *
 * @example
 * const data: EventData = { productId: 12345, productName: 'milk', at: new Date() };
 */
export type EventData = { readonly [key: string]: EventDataValue };

/**
 * Declare your events here (declaration merging) to type-check their eventData, and give
 * the same classes to the `catalog` option so they are validated at run time too.
 *
 * @example
 * declare module 'nestjs-chabok' {
 *   interface ChabokEventCatalog { addToCart: AddToCartData }
 * }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ChabokEventCatalog {}

/**
 * The eventData type of an event name: its catalogue entry, or any JSON-safe object.
 *
 * @example
 * type CartData = EventDataOf<'addToCart'>; // AddToCartData once catalogued
 */
export type EventDataOf<Name extends string> = Name extends keyof ChabokEventCatalog
  ? ChabokEventCatalog[Name]
  : EventData;

/** Fields every tracked event may carry besides its identity. */
interface EventFields<Data = EventData> {
  /** When it happened. Defaults to the moment `track()` was called. Date or epoch milliseconds. */
  eventTime?: Date | number;
  /** Properties of the event: a plain object with JSON-safe values. */
  eventData?: Data;
}

/**
 * An event for `POST /installations/track`.
 *
 * @example
 * tracking.track({ userId: '42', eventName: 'addToCart', eventData: { productId: 12345 } });
 */
export type TrackEventInput<Name extends string = string> = ChabokIdentity &
  EventFields<EventDataOf<Name>> & { eventName: Name };

/**
 * An event for `POST /installations/trackPurchase`: a named event with a revenue.
 *
 * @example
 * tracking.trackPurchase({ userId: '42', eventName: 'checkout', revenue: 120000, currency: 'RIAL' });
 */
export type TrackPurchaseInput<Name extends string = string> = TrackEventInput<Name> & {
  revenue: number;
  currency?: string;
};

/**
 * A revenue event for `POST /installations/trackRevenue` (Chabok names it `Purchase`).
 *
 * @example
 * tracking.trackRevenue({ installationId: 'abc', revenue: 99000, currency: 'RIAL' });
 */
export type TrackRevenueInput = ChabokIdentity & EventFields & { revenue: number; currency?: string };

/**
 * The three event endpoints, relative to the base URL.
 *
 * @example
 * recorder.events('installations/trackPurchase');
 */
export type ChabokEndpoint = 'installations/track' | 'installations/trackPurchase' | 'installations/trackRevenue';

/**
 * An event as it goes on the wire (after validation and normalisation).
 *
 * @example
 * const sent: WireEvent = { userId: '42', eventName: 'addToCart', eventTime: 1575965328110, eventData: { productId: 7 } };
 */
export interface WireEvent {
  installationId?: string;
  userId?: string;
  eventName?: string;
  eventTime: number;
  eventData?: Record<string, unknown>;
  revenue?: number;
  currency?: string;
}
