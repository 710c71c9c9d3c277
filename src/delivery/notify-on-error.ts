import type { ChabokFailure } from '../interfaces/chabok-failure.interface.js';
import type { RateLimitedLogger } from '../logging/rate-limited-logger.js';

/**
 * Calls the user's `onError` hook (both delivery engines report through here). A hook that
 * throws is logged, never rethrown: a broken hook must not break delivery.
 */
export function notifyOnError(
  onError: ((failure: ChabokFailure) => void) | undefined,
  failure: () => ChabokFailure,
  log: RateLimitedLogger,
): void {
  if (!onError) return;
  try {
    onError(failure());
  } catch (hookError) {
    log.error('onError', `onError hook threw: ${hookError instanceof Error ? hookError.message : String(hookError)}`);
  }
}
