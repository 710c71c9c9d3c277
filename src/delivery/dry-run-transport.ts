import type { LoggerService } from '@nestjs/common';
import type { ResolvedChabokOptions } from '../config/resolved-options.js';
import type { ChabokEndpoint } from '../interfaces/chabok-event.interface.js';
import type { ChabokTransport, TransportOutcome } from '../interfaces/event-delivery.interface.js';

/** Bodies are cut to this many characters in the log. */
const MAX_LOGGED_BODY = 4_000;

/**
 * `dryRun: true`: everything runs up to the wire (validation, batching, timers), and each
 * request that would be sent is logged instead (without the token) and treated as accepted.
 */
export class DryRunTransport implements ChabokTransport {
  constructor(
    private readonly options: ResolvedChabokOptions,
    private readonly logger: LoggerService,
  ) {}

  async send(endpoint: ChabokEndpoint, body: string): Promise<TransportOutcome> {
    const shown = body.length > MAX_LOGGED_BODY ? `${body.slice(0, MAX_LOGGED_BODY)}… (${body.length} chars)` : body;
    this.logger.log(`[dry run] POST ${this.options.baseUrl}/${endpoint} ${shown}`);
    return { kind: 'response', status: 202, body: '' };
  }
}
