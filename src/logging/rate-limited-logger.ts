import { Logger } from '@nestjs/common';
import { CHABOK_LOGGER_CONTEXT } from '../chabok.constants.js';

/**
 * Nest Logger (context `Chabok`) that lets one message per key through each window and
 * folds the rest into a count, so a Chabok outage produces a few lines, not thousands.
 */
export class RateLimitedLogger {
  private readonly logger = new Logger(CHABOK_LOGGER_CONTEXT);
  private readonly windows = new Map<string, { until: number; suppressed: number }>();

  constructor(private readonly windowMs = 10_000) {}

  warn(key: string, message: string): void {
    this.emit('warn', key, message);
  }

  error(key: string, message: string): void {
    this.emit('error', key, message);
  }

  debug(message: string): void {
    this.logger.debug(message);
  }

  private emit(level: 'warn' | 'error', key: string, message: string): void {
    const now = Date.now();
    const window = this.windows.get(key);
    if (window && now < window.until) {
      window.suppressed++;
      return;
    }
    const suffix = window?.suppressed ? ` (${window.suppressed} similar message(s) suppressed)` : '';
    this.windows.set(key, { until: now + this.windowMs, suppressed: 0 });
    this.logger[level](message + suffix);
  }
}
