import type { ChabokViolation } from '../errors/chabok.error.js';

/**
 * Limits on eventData, documented in the README.
 *
 * @example
 * if (JSON.stringify(data).length > EVENT_DATA_LIMITS.maxBytes) trimIt(data);
 */
export const EVENT_DATA_LIMITS = {
  /** Nesting depth of objects/arrays below eventData itself. */
  maxDepth: 5,
  /** Keys in one object. */
  maxKeys: 100,
  /** Length of one key. */
  maxKeyLength: 128,
  /** Serialised size of the whole eventData, in UTF-8 bytes. */
  maxBytes: 16 * 1024,
} as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return `a ${value.constructor?.name ?? 'non-plain'} object`;
  return `a ${typeof value}`;
}

/**
 * Copies eventData with every valid Date turned into an ISO-8601 UTC string, so the
 * wire never depends on Date#toJSON and invalid Dates are still seen by the check below.
 * Anything else is copied as is; a circular structure is returned untouched for the
 * check to refuse.
 */
export function normalizeEventData(value: unknown): unknown {
  const seen = new Set<object>();
  let circular = false;
  const walk = (v: unknown): unknown => {
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? v : v.toISOString();
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) {
      circular = true;
      return v;
    }
    seen.add(v);
    let out: unknown = v;
    if (Array.isArray(v)) out = v.map(walk);
    else if (isPlainObject(v)) {
      const copy: Record<string, unknown> = {};
      // defineProperty, not assignment: a "__proto__" key (e.g. from JSON.parse) must stay a key.
      for (const key of Object.keys(v))
        Object.defineProperty(copy, key, { value: walk(v[key]), enumerable: true, writable: true, configurable: true });
      out = copy;
    }
    seen.delete(v);
    return out;
  };
  const result = walk(value);
  return circular ? value : result;
}

/**
 * Lists every reason eventData is not a plain, JSON-safe object within the limits.
 * Nothing is coerced: a bad value is reported with its path, never silently mangled.
 */
export function inspectEventData(value: unknown, path = 'eventData'): ChabokViolation[] {
  const violations: ChabokViolation[] = [];
  if (!isPlainObject(value)) {
    return [{ path, reason: `must be a plain object (got ${Array.isArray(value) ? 'an array' : describe(value)})` }];
  }
  const ancestors = new Set<object>();
  const walk = (v: unknown, at: string, depth: number): void => {
    if (violations.length >= 20) return; // enough to act on; keeps the error readable
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(v)) violations.push({ path: at, reason: `must be a finite number (got ${v})` });
        return;
      case 'undefined':
        violations.push({ path: at, reason: 'must not be undefined (JSON would drop it); omit the key or use null' });
        return;
      case 'object':
        break;
      default:
        violations.push({ path: at, reason: `is ${describe(v)}, which is not JSON-safe` });
        return;
    }
    if (v === null) return;
    if (v instanceof Date) {
      violations.push({ path: at, reason: 'is an invalid Date' });
      return;
    }
    if (ancestors.has(v)) {
      violations.push({ path: at, reason: 'is a circular reference' });
      return;
    }
    if (depth > EVENT_DATA_LIMITS.maxDepth) {
      violations.push({ path: at, reason: `nests deeper than ${EVENT_DATA_LIMITS.maxDepth} levels` });
      return;
    }
    if (!Array.isArray(v) && !isPlainObject(v)) {
      violations.push({
        path: at,
        reason: `is ${describe(v)}; only plain objects, arrays, strings, numbers, booleans, null and Dates are allowed`,
      });
      return;
    }
    ancestors.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], `${at}[${i}]`, depth + 1);
    } else {
      const keys = Object.keys(v);
      if (keys.length > EVENT_DATA_LIMITS.maxKeys)
        violations.push({
          path: at,
          reason: `has ${keys.length} keys; at most ${EVENT_DATA_LIMITS.maxKeys} are allowed`,
        });
      for (const key of keys) {
        if (key.length > EVENT_DATA_LIMITS.maxKeyLength)
          violations.push({
            path: `${at}.${key.slice(0, 32)}…`,
            reason: `key is longer than ${EVENT_DATA_LIMITS.maxKeyLength} characters`,
          });
        walk(v[key], `${at}.${key}`, depth + 1);
      }
    }
    ancestors.delete(v);
  };
  walk(value, path, 0);
  if (violations.length === 0) {
    const bytes = Buffer.byteLength(JSON.stringify(value));
    if (bytes > EVENT_DATA_LIMITS.maxBytes)
      violations.push({ path, reason: `is ${bytes} bytes as JSON; at most ${EVENT_DATA_LIMITS.maxBytes} are allowed` });
  }
  return violations;
}
