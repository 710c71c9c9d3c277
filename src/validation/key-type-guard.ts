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
 * logger.log(`guarding up to ${KEY_TYPE_GUARD_MAX_ENTRIES} (event, key) pairs`);
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
  /** event name -> key -> first type. Nested maps: no string is built per key per event. */
  private readonly firstSeen = new Map<string, Map<string, JsonType>>();
  private entries = 0;

  constructor(private readonly maxEntries = KEY_TYPE_GUARD_MAX_ENTRIES) {}

  /** Records new keys and returns a violation for each key whose type changed. */
  check(event: WireEvent): ChabokViolation[] {
    const data = event.eventData;
    if (!data) return [];
    const name = event.eventName ?? 'Purchase'; // trackRevenue events are named Purchase by Chabok
    let types = this.firstSeen.get(name);
    let conflicts: ChabokViolation[] | undefined;
    for (const key in data) {
      const type = jsonType(data[key]);
      if (!type) continue;
      const first = types?.get(key);
      if (first === undefined) {
        if (this.entries >= this.maxEntries) continue;
        if (!types) this.firstSeen.set(name, (types = new Map()));
        types.set(key, type);
        this.entries++;
      } else if (first !== type) {
        (conflicts ??= []).push({
          path: `eventData.${key}`,
          reason: `is a ${type}, but "${name}" first sent it as a ${first}; Chabok keeps a key's first type, so this value would be unusable in segments`,
        });
      }
    }
    return conflicts ?? [];
  }
}
