import { IsNotEmpty, IsOptional, IsString, MaxLength, Matches } from 'class-validator';
import { IsEventTime, IsExactlyOneIdentity, IsJsonSafeEventData } from './dto-decorators.js';

/**
 * Limits on names and ids, documented in the README.
 *
 * @example
 * const name = raw.slice(0, EVENT_FIELD_LIMITS.maxEventNameLength);
 */
export const EVENT_FIELD_LIMITS = { maxEventNameLength: 128, maxIdLength: 256, maxCurrencyLength: 16 } as const;

/** No control characters and no surrounding white space. */
export const TIDY_TEXT = /^(?! )[^\u0000-\u001f\u007f]*(?<! )$/;

/**
 * DTOs hold the event as it will go on the wire: `buildWireEvent` has already turned a
 * Date eventTime into epoch ms, a numeric userId into a string and Dates in eventData into
 * ISO strings. (class-transformer is not used for this: it deep-copies eventData and turns
 * class instances into plain objects, silently mangling what we must refuse.)
 *
 * Fields shared by all three event endpoints: identity, time and data.
 * Validated with `forbidNonWhitelisted`, so an unknown top-level field is refused.
 */
export class EventBaseDto {
  /** Not a field: anchors the "exactly one id" rule, which spans two optional fields. */
  @IsExactlyOneIdentity()
  protected readonly identity?: never;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(EVENT_FIELD_LIMITS.maxIdLength)
  installationId?: string;

  @IsOptional()
  @IsString({ message: 'userId must be a string (or a safe integer)' })
  @IsNotEmpty()
  @MaxLength(EVENT_FIELD_LIMITS.maxIdLength)
  userId?: string;

  @IsOptional()
  @IsEventTime()
  eventTime?: number;

  @IsOptional()
  @IsJsonSafeEventData()
  eventData?: Record<string, unknown>;
}

/** Body of `POST /installations/track`. */
export class TrackEventDto extends EventBaseDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(EVENT_FIELD_LIMITS.maxEventNameLength)
  @Matches(TIDY_TEXT, { message: 'eventName must not contain control characters or surrounding spaces' })
  eventName!: string;
}
