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

/** Assignment, except for a "__proto__" key (e.g. from JSON.parse), which must stay a key. */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * Returns eventData with every valid Date turned into an ISO-8601 UTC string, so the wire
 * never depends on Date#toJSON; invalid Dates stay for the check below to refuse. Objects
 * and arrays are copied only on the way to a Date (copy-on-write): the caller's data is
 * never modified, and the common case of no Dates costs no copy. A circular structure is
 * returned untouched for the check to refuse.
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
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const w = walk(v[i]);
        if (w === v[i]) continue;
        if (out === v) out = v.slice();
        (out as unknown[])[i] = w;
      }
    } else if (isPlainObject(v)) {
      for (const key of Object.keys(v)) {
        const w = walk(v[key]);
        if (w === v[key]) continue;
        if (out === v) {
          out = {};
          for (const k of Object.keys(v)) setKey(out as Record<string, unknown>, k, v[k]);
        }
        setKey(out as Record<string, unknown>, key, w);
      }
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
  // The path of the value being looked at, as segments: rendered only for a violation, so
  // the common (valid) case builds no strings.
  const segments: (string | number)[] = [];
  const at = () => path + segments.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');
  const bad = (reason: string, where = at()) => violations.push({ path: where, reason });
  // An upper bound of the JSON size (escapes and UTF-8 at their widest); the exact size is
  // computed only when the bound could exceed the limit.
  let bound = 0;
  const walk = (v: unknown, depth: number): void => {
    if (violations.length >= 20) return; // enough to act on; keeps the error readable
    switch (typeof v) {
      case 'string':
        bound += v.length * 6 + 2;
        return;
      case 'boolean':
        bound += 5;
        return;
      case 'number':
        bound += 24;
        if (!Number.isFinite(v)) bad(`must be a finite number (got ${v})`);
        return;
      case 'undefined':
        bad('must not be undefined (JSON would drop it); omit the key or use null');
        return;
      case 'object':
        break;
      default:
        bad(`is ${describe(v)}, which is not JSON-safe`);
        return;
    }
    bound += 4;
    if (v === null) return;
    if (v instanceof Date) return void bad('is an invalid Date');
    if (ancestors.has(v)) return void bad('is a circular reference');
    if (depth > EVENT_DATA_LIMITS.maxDepth) return void bad(`nests deeper than ${EVENT_DATA_LIMITS.maxDepth} levels`);
    if (!Array.isArray(v) && !isPlainObject(v)) {
      return void bad(
        `is ${describe(v)}; only plain objects, arrays, strings, numbers, booleans, null and Dates are allowed`,
      );
    }
    ancestors.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        segments.push(i);
        bound += 1;
        walk(v[i], depth + 1);
        segments.pop();
      }
    } else {
      const keys = Object.keys(v);
      if (keys.length > EVENT_DATA_LIMITS.maxKeys)
        bad(`has ${keys.length} keys; at most ${EVENT_DATA_LIMITS.maxKeys} are allowed`);
      for (const key of keys) {
        if (key.length > EVENT_DATA_LIMITS.maxKeyLength) {
          bad(`key is longer than ${EVENT_DATA_LIMITS.maxKeyLength} characters`, `${at()}.${key.slice(0, 32)}…`);
        }
        segments.push(key);
        bound += key.length * 6 + 4;
        walk(v[key], depth + 1);
        segments.pop();
      }
    }
    ancestors.delete(v);
  };
  walk(value, 0);
  if (violations.length === 0 && bound > EVENT_DATA_LIMITS.maxBytes) {
    const bytes = Buffer.byteLength(JSON.stringify(value));
    if (bytes > EVENT_DATA_LIMITS.maxBytes)
      bad(`is ${bytes} bytes as JSON; at most ${EVENT_DATA_LIMITS.maxBytes} are allowed`, path);
  }
  return violations;
}
