import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { TrackEventDto } from '../dto/track-event.dto.js';
import { TrackPurchaseDto, TrackRevenueDto } from '../dto/track-revenue.dto.js';
import { ChabokValidationError } from '../errors/chabok-validation.error.js';
import type { ChabokViolation } from '../errors/chabok.error.js';
import type { ChabokEndpoint, WireEvent } from '../interfaces/chabok-event.interface.js';
import { inspectEventData, normalizeEventData } from './event-data.js';
import { certainlyValid } from './fast-accept.js';

const DTO_BY_ENDPOINT = {
  'installations/track': TrackEventDto,
  'installations/trackPurchase': TrackPurchaseDto,
  'installations/trackRevenue': TrackRevenueDto,
} as const satisfies Record<ChabokEndpoint, new () => object>;

/** Wire field order, so the JSON reads like Chabok's examples. */
const WIRE_FIELDS = ['installationId', 'userId', 'eventName', 'eventTime', 'eventData', 'revenue', 'currency'] as const;

/**
 * Optional fields that would go on the wire as `null`: @IsOptional() skips validation for
 * null as well as undefined, and Chabok refuses a null id, eventData or currency.
 * (A null eventTime is stamped like an absent one, so it is not listed.)
 */
const NOT_NULLABLE = ['installationId', 'userId', 'eventData', 'currency'] as const;

const VALIDATOR_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false },
} as const;

/**
 * Validates one event against its endpoint's DTO and returns it exactly as it goes on the
 * wire. `eventTime` is stamped with `capturedAt` when absent, so queueing and retries never
 * move it. With `dataType` (a catalogue entry), eventData is also validated against that
 * class. Throws {@link ChabokValidationError} listing every violation.
 */
export function buildWireEvent(
  endpoint: ChabokEndpoint,
  input: unknown,
  capturedAt: number,
  dataType?: Type<object>,
): WireEvent {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ChabokValidationError([{ path: '(event)', reason: 'must be an object' }]);
  }
  const dto = prepareDto(endpoint, input);
  const violations = certainlyValid(endpoint, dto) ? [] : validateDto(dto);
  // Only on otherwise sound eventData: class-transformer would recurse forever on a cycle.
  if (dataType && !violations.some((v) => v.path.startsWith('eventData'))) {
    violations.push(...validateCatalogData(dataType, (input as { eventData?: unknown }).eventData));
  }
  if (violations.length > 0) throw new ChabokValidationError(violations);

  const wire: Record<string, unknown> = {};
  for (const field of WIRE_FIELDS) {
    const value = field === 'eventTime' ? (dto.eventTime ?? capturedAt) : dto[field];
    if (value !== undefined) wire[field] = value;
  }
  return wire as unknown as WireEvent;
}

/** The endpoint's DTO instance, with the wire conversions applied (but not yet validated). */
export function prepareDto(endpoint: ChabokEndpoint, input: object): Record<string, unknown> {
  const dto = Object.assign(new DTO_BY_ENDPOINT[endpoint](), input) as Record<string, unknown>;
  if (dto.eventTime instanceof Date) dto.eventTime = dto.eventTime.getTime(); // NaN for an invalid Date: refused below
  if (typeof dto.userId === 'number' && Number.isSafeInteger(dto.userId)) dto.userId = String(dto.userId);
  if (dto.eventData !== undefined) dto.eventData = normalizeEventData(dto.eventData);
  return dto;
}

/** The DTO's verdict (class-validator), plus what its decorators let through: nulls, `identity`. */
export function validateDto(dto: Record<string, unknown>): ChabokViolation[] {
  const violations = toViolations(validateSync(dto, VALIDATOR_OPTIONS));
  // `identity` anchors a decorator, so class-validator counts it as a known field.
  if (Object.prototype.hasOwnProperty.call(dto, 'identity'))
    violations.push({ path: 'identity', reason: 'is not a known field' });
  for (const field of NOT_NULLABLE) {
    if (dto[field] === null && !violations.some((v) => v.path === field))
      violations.push({ path: field, reason: 'must not be null (leave it out instead)' });
  }
  return violations;
}

/**
 * Validates eventData against a user's DTO class. class-transformer builds the instance
 * (so nested @ValidateNested/@Type work); the JSON-safety rules still run on the original.
 */
function validateCatalogData(dataType: Type<object>, eventData: unknown): ChabokViolation[] {
  if (eventData !== undefined && (eventData === null || typeof eventData !== 'object' || Array.isArray(eventData)))
    return [];
  const instance = plainToInstance(dataType, eventData ?? {});
  return toViolations(validateSync(instance, VALIDATOR_OPTIONS), 'eventData.');
}

/**
 * Constraints that say what *type* a value must be. When one of them fails, the others on
 * that field (length, range, pattern) say nothing useful, so only the type is reported.
 */
const TYPE_CONSTRAINTS = new Set(['isString', 'isNumber', 'isInt', 'isBoolean', 'isEventTime', 'isJsonSafeEventData']);

function toViolations(errors: ValidationError[], prefix = ''): ChabokViolation[] {
  const out: ChabokViolation[] = [];
  for (const error of errors) {
    const path = prefix + (error.property === 'identity' ? 'userId|installationId' : error.property);
    const constraints = Object.entries(error.constraints ?? {});
    if (error.value === undefined && error.property !== 'identity' && constraints.length > 0) {
      out.push({ path, reason: 'is required' }); // a missing required field: one clear line
    } else {
      const typeFailures = constraints.filter(([name]) => TYPE_CONSTRAINTS.has(name));
      for (const [name, message] of typeFailures.length ? typeFailures : constraints) {
        if (name === 'whitelistValidation') out.push({ path, reason: 'is not a known field' });
        else if (name === 'isJsonSafeEventData') out.push(...inspectEventData(error.value, path));
        else
          out.push({
            path,
            reason: message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message,
          });
      }
    }
    if (error.children?.length) out.push(...toViolations(error.children, `${path}.`));
  }
  return out;
}
