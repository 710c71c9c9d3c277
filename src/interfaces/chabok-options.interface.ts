import type { ExecutionContext, Type } from '@nestjs/common';
import type { ChabokIdentity } from './chabok-event.interface.js';
import type { ChabokFailure } from './chabok-failure.interface.js';
import type { KeyTypeGuardMode } from '../validation/key-type-guard.js';
import type { DurableDeliveryOptions } from '../delivery/durable/durable-options.js';

/**
 * Finds who made the request. Return `undefined` to skip tracking (logged at debug level).
 *
 * @example
 * const identity: IdentityResolver = (ctx) => {
 *   const req = ctx.switchToHttp().getRequest();
 *   return req.session?.uid ? { userId: req.session.uid } : undefined;
 * };
 */
export type IdentityResolver = (context: ExecutionContext) => ChabokIdentity | undefined;

/**
 * What to do with a new event when the queue is full.
 *
 * @example
 * ChabokModule.forRoot({ ..., maxQueueSize: 50_000, overflow: 'drop-oldest' });
 */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest';

/**
 * Options of `ChabokModule.forRoot()` / `forRootAsync()`. Validated once at bootstrap.
 *
 * @example
 * ChabokModule.forRoot({ appId: 'myapp', accessToken: process.env.CHABOK_ACCESS_TOKEN! })
 */
export interface ChabokModuleOptions {
  /** Chabok app id; events go to `https://{appId}.push.adpdigital.com/api`. */
  appId?: string;
  /** `'sandbox'` sends to `https://sandbox.push.adpdigital.com/api` instead of production. */
  environment?: 'production' | 'sandbox';
  /** API key from the Chabok panel, sent as the `X-Access-Token` header. Never logged. */
  accessToken?: string;
  /** Overrides the host (proxies, tests). Must be https, or http on a loopback address. */
  baseUrl?: string;
  /** Per-request timeout. Default 10000. */
  timeoutMs?: number;
  /** `false` validates events but sends nothing and runs no timers. Default true. */
  enabled?: boolean;
  /** `true` runs everything up to the wire and logs each request instead of sending it. Default false. */
  dryRun?: boolean;
  /** Module-wide identity resolver for `@TrackEvent()`; default: `request.user.id`, then the installation header. */
  identity?: IdentityResolver;
  /** Header the default resolver reads an installation id from. Default `x-chabok-installation-id`. */
  installationIdHeader?: string;
  /** Mount the `@TrackEvent()` interceptor globally. Default true. */
  mountInterceptor?: boolean;

  /** Most events in one request. Default 500. */
  maxBatchSize?: number;
  /** Most bytes of JSON in one request body. Default 512 KiB. */
  maxBatchBytes?: number;
  /** Longest an event waits for its batch to fill. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Most requests in flight at once. Default 2. */
  maxConcurrentRequests?: number;
  /** Most events held (queued, retrying or in flight). Default 100000. */
  maxQueueSize?: number;
  /** Most bytes of event JSON held. Default 64 MiB. */
  maxQueueBytes?: number;
  /** What a full queue does with a new event. Default `'drop-newest'`. */
  overflow?: OverflowPolicy;
  /** How long an event may be retried after it was tracked. Default 10 minutes. */
  deliveryDeadlineMs?: number;
  /** First retry delay; doubles each failure, with full jitter. Default 500 ms. */
  retryBaseDelayMs?: number;
  /** Largest retry delay (also caps Retry-After). Default 60000 ms. */
  retryMaxDelayMs?: number;
  /** How long shutdown waits for the queue to drain. Default 5000 ms. */
  shutdownTimeoutMs?: number;
  /**
   * Typed event catalogue: a class-validator DTO class for the eventData of each event name.
   * Catalogued events are validated against their class (unknown keys refused).
   * Pair it with `ChabokEventCatalog` declaration merging for compile-time checks.
   */
  catalog?: Record<string, Type<object>>;
  /**
   * When an eventData key changes type from the first type seen for it (per event name, in
   * this process): `'warn'` (default) logs and sends, `'reject'` refuses the event, `'off'`.
   */
  keyTypeGuard?: KeyTypeGuardMode;
  /** `{ mode: 'memory' }` (default), or `{ mode: 'durable', ... }` to queue events in Redis with BullMQ. */
  delivery?: { mode: 'memory' } | DurableDeliveryOptions;
  /** Called for every failed, rejected, expired or dropped event. Must not throw. */
  onError?: (failure: ChabokFailure) => void;
}
