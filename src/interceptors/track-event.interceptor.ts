import {
  Inject,
  Injectable,
  Logger,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { tap, type Observable } from 'rxjs';
import { CHABOK_LOGGER_CONTEXT, CHABOK_OPTIONS, TRACK_EVENT_METADATA } from '../chabok.constants.js';
import type { ResolvedChabokOptions } from '../config/resolved-options.js';
import type { TrackEventOptions, ValueOrFactory } from '../decorators/track-event.decorator.js';
import { defaultIdentity } from '../identity/default-identity.resolver.js';
import type { ChabokIdentity } from '../interfaces/chabok-event.interface.js';
import { EventTrackingService } from '../services/event-tracking.service.js';

/** Handlers without `@TrackEvent()` are remembered as this, so they cost one Map lookup. */
const UNTRACKED = null;

/**
 * Turns each successful call of a `@TrackEvent()` handler into a Chabok event. Mounted
 * globally by `ChabokModule` (unless `mountInterceptor: false`).
 *
 * The event is built after the handler's observable completes, on a later tick
 * (setImmediate), so neither the response nor its latency depends on tracking; any
 * failure is logged under the `Chabok` context and never reaches the client.
 * Subclass and override `resolveIdentity` or `shouldTrack` to customise.
 *
 * @example
 * // Only needed with mountInterceptor: false
 * @UseInterceptors(TrackEventInterceptor) @Controller() class CartController {}
 */
@Injectable()
export class TrackEventInterceptor implements NestInterceptor {
  protected readonly logger = new Logger(CHABOK_LOGGER_CONTEXT);
  private readonly metadata = new Map<object, TrackEventOptions | typeof UNTRACKED>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly tracking: EventTrackingService,
    @Inject(CHABOK_OPTIONS) protected readonly options: ResolvedChabokOptions,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const meta = this.metadataOf(context.getHandler());
    if (meta === UNTRACKED) return next.handle();
    let result: unknown;
    return next.handle().pipe(
      tap({
        next: (value) => {
          result = value;
        },
        // complete, not next: a handler that errors produces no event, and a streamed
        // result is tracked once, with its last value.
        complete: () => {
          const completedAt = Date.now(); // the event's time: when the handler finished, not when it is built
          setImmediate(() => this.capture(meta, context, result, completedAt));
        },
      }),
    );
  }

  /** Builds, validates and queues the event. Never throws. */
  protected capture(
    meta: TrackEventOptions,
    context: ExecutionContext,
    result: unknown,
    completedAt = Date.now(),
  ): void {
    try {
      const args = context.getArgs();
      if (!this.shouldTrack(meta, context, args, result)) return;
      const identity = this.resolveIdentity(meta, context, args, result);
      if (!identity) {
        this.logger.debug(`No identity for "${meta.name}"; event skipped`);
        return;
      }
      const eventData = resolve(meta.data, context, args, result);
      const event = {
        ...identity,
        eventName: meta.name,
        eventTime: completedAt,
        ...(eventData === undefined ? {} : { eventData }),
      };
      this.tracking.capture('installations/track', event, meta.dataType);
    } catch (error) {
      this.logger.warn(`Event "${meta.name}" not tracked: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  protected shouldTrack(meta: TrackEventOptions, context: ExecutionContext, args: unknown[], result: unknown): boolean {
    return meta.when === undefined || Boolean(resolve(meta.when, context, args, result));
  }

  protected resolveIdentity(
    meta: TrackEventOptions,
    context: ExecutionContext,
    args: unknown[],
    result: unknown,
  ): ChabokIdentity | undefined {
    if (meta.identity !== undefined) return resolve(meta.identity, context, args, result);
    return this.options.identity
      ? this.options.identity(context)
      : defaultIdentity(context, this.options.installationIdHeader);
  }

  /** Reads the decorator's metadata once per handler, not once per request. */
  private metadataOf(handler: ReturnType<ExecutionContext['getHandler']>): TrackEventOptions | typeof UNTRACKED {
    let meta = this.metadata.get(handler);
    if (meta === undefined) {
      meta = this.reflector.get<TrackEventOptions | undefined>(TRACK_EVENT_METADATA, handler) ?? UNTRACKED;
      this.metadata.set(handler, meta);
    }
    return meta;
  }
}

function resolve<T>(option: ValueOrFactory<T>, context: ExecutionContext, args: unknown[], result: unknown): T {
  return typeof option === 'function'
    ? (option as (c: ExecutionContext, a: unknown[], r: unknown) => T)(context, args, result)
    : option;
}
