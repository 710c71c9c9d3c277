import { ChabokError, formatViolations, type ChabokViolation } from './chabok.error.js';

/**
 * An event was refused before anything was sent. `violations` lists every problem found,
 * not only the first.
 *
 * @example
 * await tracking.track({ userId: 'u1', eventName: '' }).catch((e) => {
 *   if (e instanceof ChabokValidationError) logger.warn(e.violations); // [{ path: 'eventName', ... }]
 * });
 */
export class ChabokValidationError extends ChabokError {
  readonly code = 'CHABOK_INVALID_EVENT';

  constructor(readonly violations: readonly ChabokViolation[]) {
    super(`Chabok event refused, nothing was sent:\n${formatViolations(violations)}`);
  }
}
