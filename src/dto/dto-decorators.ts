import { registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';
import { inspectEventData } from '../validation/event-data.js';

/** Epoch ms before this are almost surely epoch *seconds* passed by mistake. */
export const EARLIEST_EVENT_TIME = Date.UTC(2000, 0, 1);

/** Exactly one of `userId` / `installationId`; put on both, reported once. */
export function IsExactlyOneIdentity(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isExactlyOneIdentity',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (_: unknown, args: ValidationArguments) => {
          const o = args.object as { userId?: unknown; installationId?: unknown };
          return (o.userId === undefined) !== (o.installationId === undefined);
        },
        defaultMessage: (args?: ValidationArguments) => {
          const o = args?.object as { userId?: unknown; installationId?: unknown };
          return o.userId === undefined
            ? 'one of userId or installationId is required'
            : 'give exactly one of userId or installationId, not both';
        },
      },
    });
}

/** `Date` or epoch milliseconds; turned into epoch ms on the wire. */
export function IsEventTime(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isEventTime',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= EARLIEST_EVENT_TIME,
        defaultMessage: (args?: ValidationArguments) =>
          typeof args?.value === 'number' && Number.isFinite(args.value) && args.value < EARLIEST_EVENT_TIME
            ? 'must be epoch milliseconds after 2000-01-01 (this looks like seconds or a negative number)'
            : 'must be a valid Date or an integer of epoch milliseconds',
      },
    });
}

/** A plain object with JSON-safe values within EVENT_DATA_LIMITS. */
export function IsJsonSafeEventData(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isJsonSafeEventData',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (v: unknown) => inspectEventData(v).length === 0,
        // Each problem is reported with its own path by build-wire-event's toViolations.
        defaultMessage: () => 'eventData must be a plain object of JSON-safe values within the limits',
      },
    });
}
