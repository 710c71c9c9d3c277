import { EARLIEST_EVENT_TIME } from '../dto/dto-decorators.js';
import { EVENT_FIELD_LIMITS, TIDY_TEXT } from '../dto/track-event.dto.js';
import type { ChabokEndpoint } from '../interfaces/chabok-event.interface.js';
import { inspectEventData } from './event-data.js';

const BASE = ['installationId', 'userId', 'eventTime', 'eventData'];
const ALLOWED_KEYS: Record<ChabokEndpoint, ReadonlySet<string>> = {
  'installations/track': new Set([...BASE, 'eventName']),
  'installations/trackPurchase': new Set([...BASE, 'eventName', 'revenue', 'currency']),
  'installations/trackRevenue': new Set([...BASE, 'revenue', 'currency']),
};

const isId = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= EVENT_FIELD_LIMITS.maxIdLength;

/**
 * The DTOs' rules, restated as plain checks for the common case of a valid event. It only
 * ever says "certainly valid": anything unusual (a null, a missing field, a bad value)
 * returns false, and the event then goes through class-validator, which has the last word
 * and writes the error messages. This keeps class-validator's ~10 µs per event off the hot
 * path (see BENCHMARKS.md); a differential test (test/unit/fast-accept.spec.ts) checks that
 * nothing this accepts is refused by the DTOs.
 */
export function certainlyValid(endpoint: ChabokEndpoint, dto: Record<string, unknown>): boolean {
  const allowed = ALLOWED_KEYS[endpoint];
  for (const key of Object.keys(dto)) if (!allowed.has(key)) return false;

  const { userId, installationId, eventName, eventTime, eventData } = dto;
  if (userId === undefined ? !isId(installationId) : installationId !== undefined || !isId(userId)) return false;
  if (endpoint !== 'installations/trackRevenue') {
    if (typeof eventName !== 'string' || eventName.length === 0) return false;
    if (eventName.length > EVENT_FIELD_LIMITS.maxEventNameLength || !TIDY_TEXT.test(eventName)) return false;
  }
  if (eventTime !== undefined && !(Number.isSafeInteger(eventTime) && (eventTime as number) >= EARLIEST_EVENT_TIME)) {
    return false;
  }
  if (eventData !== undefined && inspectEventData(eventData).length > 0) return false;
  if (endpoint !== 'installations/track') {
    const { revenue, currency } = dto;
    if (typeof revenue !== 'number' || !Number.isFinite(revenue) || revenue < 0) return false;
    if (currency !== undefined && !(typeof currency === 'string' && currency.length > 0)) return false;
    if (typeof currency === 'string' && currency.length > EVENT_FIELD_LIMITS.maxCurrencyLength) return false;
  }
  return true;
}
