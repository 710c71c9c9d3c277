import type { TransportOutcome } from '../interfaces/event-delivery.interface.js';

/**
 * What to do with a batch after Chabok (or the network) answered:
 * - `delivered`: 2xx.
 * - `retry`: transient (408, 429, 5xx, timeouts, resets, refused connections); retry later.
 * - `split`: the body was refused as a whole (400, 413, 422); bisect so the valid events
 *   in it still go through and only the offending ones fail.
 * - `unauthorized`: 401/403; a configuration problem, never retried.
 * - `reject`: any other 4xx; permanent for this request.
 */
export type Verdict = 'delivered' | 'retry' | 'split' | 'unauthorized' | 'reject';

export function classify(outcome: TransportOutcome): Verdict {
  if (outcome.kind === 'network') return 'retry';
  const s = outcome.status;
  if (s >= 200 && s < 300) return 'delivered';
  if (s === 408 || s === 429 || s >= 500) return 'retry';
  if (s === 401 || s === 403) return 'unauthorized';
  if (s === 400 || s === 413 || s === 422) return 'split';
  return 'reject';
}

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, base * 2^attempt)).
 * Full jitter spreads the retries of many instances so they do not hit Chabok in waves.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Parses `Retry-After` (delay-seconds or an HTTP-date) into milliseconds from `now`.
 * Returns undefined when absent or unparseable.
 */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Every HTTP-date form starts with a day name. Without this check Date.parse would read
  // "-1" or "1.5" as dates in 2001 and the retry would go out at once, with no backoff.
  if (!/^[A-Za-z]/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
