import { SetMetadata } from '@nestjs/common';
import type { ExecutionContext, Type } from '@nestjs/common';
import { TRACK_EVENT_METADATA } from '../chabok.constants.js';
import type { ChabokIdentity, EventData } from '../interfaces/chabok-event.interface.js';

/**
 * Either a value, or a function of the call that produced the event:
 * - `context`: Nest's ExecutionContext (HTTP, RPC, GraphQL or WebSocket);
 * - `args`: the handler's arguments as Nest passes them (`context.getArgs()`: for HTTP
 *   `[request, response, next]`, for RPC `[data, context]`, for GraphQL `[root, args, ctx, info]`,
 *   for WebSockets `[client, data]`);
 * - `result`: what the handler returned (after it resolved).
 *
 * @example
 * const data: ValueOrFactory<EventData> = (ctx, args, result) => ({ orderId: result.id });
 */
export type ValueOrFactory<T, TResult = any> = T | ((context: ExecutionContext, args: unknown[], result: TResult) => T);

/**
 * Options of `@TrackEvent({...})`.
 *
 * @example
 * @TrackEvent({ name: 'order_paid', data: (ctx, args, order) => ({ orderId: order.id, total: order.total }) })
 */
export interface TrackEventOptions<TResult = any> {
  /** Event name; defaults to the handler's method name. */
  name?: string;
  /** Who did it; defaults to the module's identity resolver. `undefined` skips the event. */
  identity?: ValueOrFactory<ChabokIdentity | undefined, TResult>;
  /** The event's properties. */
  data?: ValueOrFactory<EventData | undefined, TResult>;
  /** Whether to track this call at all. Default true. */
  when?: ValueOrFactory<boolean, TResult>;
  /** A class-validator DTO class the eventData must satisfy (overrides the module's `catalog`). */
  dataType?: Type<object>;
}

/**
 * Tracks a Chabok event each time the decorated handler succeeds. The response never waits
 * for, or fails because of, tracking.
 *
 * @example
 * @Post('cart') @TrackEvent() addToCart() {}                      // event "addToCart"
 * @Post('pay') @TrackEvent('order_paid') pay() {}
 * @Post('buy') @TrackEvent({ name: 'purchase', data: (_c, _a, r) => ({ sku: r.sku }) }) buy() {}
 */
export function TrackEvent<TResult = any>(nameOrOptions?: string | TrackEventOptions<TResult>): MethodDecorator {
  const options: TrackEventOptions<TResult> =
    typeof nameOrOptions === 'string' ? { name: nameOrOptions } : { ...(nameOrOptions ?? {}) };
  return (target, propertyKey, descriptor) =>
    SetMetadata(TRACK_EVENT_METADATA, { ...options, name: options.name ?? String(propertyKey) })(
      target,
      propertyKey,
      descriptor,
    );
}
