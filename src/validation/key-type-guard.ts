import type { ChabokViolation } from '../errors/chabok.error.js';
import type { WireEvent } from '../interfaces/chabok-event.interface.js';

/**
 * What the guard does when a key changes type: see the `keyTypeGuard` option.
 *
 * @example
 * ChabokModule.forRoot({ ..., keyTypeGuard: 'reject' });
 */
export type KeyTypeGuardMode = 'warn' | 'reject' | 'off';

/**
 * At most this many (event, key) pairs are remembered: about 1-2 MB in the worst case.
 * Pairs first seen after that are not guarded (an app with more distinct keys than this
 * is generating keys from data, which the guard cannot help with anyway).
 *
 * @example
 * console.log(`guarding up to ${KEY_TYPE_GUARD_MAX_ENTRIES} (event, key) pairs`);
 */
export const KEY_TYPE_GUARD_MAX_ENTRIES = 10_000;

type JsonType = 'string' | 'number' | 'boolean' | 'array' | 'object';

function jsonType(value: unknown): JsonType | undefined {
  if (value === null || value === undefined) return undefined; // null says nothing about the type
  if (Array.isArray(value)) return 'array';
  return typeof value as JsonType;
}

/**
 * Chabok fixes the type of each eventData key the first time it sees it; a later value of
 * another type is stored but unusable in segments. This guard remembers, in this process,
 * the first type seen for each (event, key) and reports events that change it.
 */
export class KeyTypeGuard {
  private readonly firstSeen = new Map<string, JsonType>();

  constructor(private readonly maxEntries = KEY_TYPE_GUARD_MAX_ENTRIES) {}

  /** Records new keys and returns a violation for each key whose type changed. */
  check(event: WireEvent): ChabokViolation[] {
    const data = event.eventData;
    if (!data) return [];
    const name = event.eventName ?? 'Purchase'; // trackRevenue events are named Purchase by Chabok
    const conflicts: ChabokViolation[] = [];
    for (const key of Object.keys(data)) {
      const type = jsonType(data[key]);
      if (!type) continue;
      const id = `${name}\u0000${key}`;
      const first = this.firstSeen.get(id);
      if (first === undefined) {
        if (this.firstSeen.size < this.maxEntries) this.firstSeen.set(id, type);
      } else if (first !== type) {
        conflicts.push({
          path: `eventData.${key}`,
          reason: `is a ${type}, but "${name}" first sent it as a ${first}; Chabok keeps a key's first type, so this value would be unusable in segments`,
        });
      }
    }
    return conflicts;
  }
}
