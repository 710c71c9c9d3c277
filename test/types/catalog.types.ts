/**
 * Type-level tests of the typed event catalogue, checked by `tsc -p test/types` (part of
 * `npm test`). Each `@ts-expect-error` line must be a compile error: if the catalogue stops
 * type-checking eventData, that directive becomes unused and tsc fails.
 * The library is imported as a user imports it (package self-reference -> dist types).
 * Prettier leaves this file alone (.prettierignore): a wrapped call would move its error
 * away from the line its @ts-expect-error covers.
 */
import { IsInt, IsString, Min } from 'class-validator';
import { expectTypeOf } from 'expect-type';
import type { EventDataOf, EventTrackingService, TrackEventInput } from 'nestjs-chabok';

class AddToCartData {
  @IsInt() @Min(1) productId!: number;
  @IsString() productName!: string;
}

declare module 'nestjs-chabok' {
  interface ChabokEventCatalog {
    addToCart: AddToCartData;
  }
}

declare const tracking: EventTrackingService;

// A catalogued event: eventData is its class's shape.
expectTypeOf<EventDataOf<'addToCart'>>().toEqualTypeOf<AddToCartData>();
void tracking.track({ userId: '1', eventName: 'addToCart', eventData: { productId: 7, productName: 'milk' } });

// @ts-expect-error productId must be a number
void tracking.track({ userId: '1', eventName: 'addToCart', eventData: { productId: '7', productName: 'milk' } });

// @ts-expect-error productName is required by the class
void tracking.track({ userId: '1', eventName: 'addToCart', eventData: { productId: 7 } });

// @ts-expect-error unknown keys are refused for catalogued events
void tracking.track({ userId: '1', eventName: 'addToCart', eventData: { productId: 7, productName: 'milk', extra: true } });

// Events outside the catalogue keep the open JSON-safe shape.
expectTypeOf<EventDataOf<'somethingElse'>>().toHaveProperty('anyKey');
void tracking.track({ userId: '1', eventName: 'viewProduct', eventData: { anything: [1, 'two', true, null] } });

// @ts-expect-error functions are never valid eventData values
void tracking.track({ userId: '1', eventName: 'viewProduct', eventData: { callback: () => 1 } });

// Identity: exactly one of userId / installationId.
// @ts-expect-error both ids
const both: TrackEventInput = { userId: '1', installationId: 'x', eventName: 'a' };
void both;

// @ts-expect-error eventTime is a Date or epoch ms, not a string
void tracking.track({ userId: '1', eventName: 'a', eventTime: '2020-01-01' });

// Purchase events are catalogued the same way.
// @ts-expect-error productId must be a number
void tracking.trackPurchase({ userId: '1', eventName: 'addToCart', revenue: 10, eventData: { productId: 'x', productName: 'y' } });
