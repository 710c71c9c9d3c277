/**
 * Base class of every error the library throws or rejects with, so callers can tell
 * tracking problems apart with one `instanceof`.
 *
 * @example
 * try { await tracking.track(event); } catch (e) { if (e instanceof ChabokError) log(e.code); }
 */
export abstract class ChabokError extends Error {
  /** A stable, machine-readable code. */
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * One rejected field: where it is and why it was refused.
 *
 * @example
 * const v: ChabokViolation = { path: 'eventData.price', reason: 'must be a finite number (got NaN)' };
 */
export interface ChabokViolation {
  /** Field path, e.g. `eventData.items[2].price` or `options.appId`. */
  readonly path: string;
  /** Human-readable reason, e.g. `must be a finite number (got NaN)`. */
  readonly reason: string;
}

/** Formats violations as `path: reason` lines, the way @nestjs/config reports bad env. */
export function formatViolations(violations: readonly ChabokViolation[]): string {
  return violations.map((v) => `  - ${v.path}: ${v.reason}`).join('\n');
}
