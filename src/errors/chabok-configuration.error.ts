import { ChabokError, formatViolations, type ChabokViolation } from './chabok.error.js';

/**
 * `ChabokModule` options are invalid; thrown once at bootstrap with every bad field.
 * The message never contains option values, so it cannot leak the access token.
 *
 * @example
 * // Nest fails to boot with:
 * // ChabokConfigurationError: Invalid ChabokModule options:
 * //   - accessToken: is required
 * //   - appId: must be a single DNS label (letters, digits, '-'), without dots, slashes or '@'
 */
export class ChabokConfigurationError extends ChabokError {
  readonly code = 'CHABOK_INVALID_OPTIONS';

  constructor(readonly violations: readonly ChabokViolation[]) {
    super(`Invalid ChabokModule options:\n${formatViolations(violations)}`);
  }
}
