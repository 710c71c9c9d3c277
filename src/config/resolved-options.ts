import type { ChabokModuleOptions, IdentityResolver, OverflowPolicy } from '../interfaces/chabok-options.interface.js';
import type { Type } from '@nestjs/common';
import type { ChabokFailure } from '../interfaces/chabok-failure.interface.js';
import type { KeyTypeGuardMode } from '../validation/key-type-guard.js';
import type { ResolvedDurableOptions } from '../delivery/durable/durable-options.js';

/**
 * Module options after validation, with every default filled in.
 *
 * @example
 * const { baseUrl, maxBatchSize } = app.get<ResolvedChabokOptions>(CHABOK_OPTIONS);
 */
export interface ResolvedChabokOptions {
  readonly baseUrl: string;
  readonly accessToken: string;
  readonly timeoutMs: number;
  readonly enabled: boolean;
  readonly dryRun: boolean;
  readonly identity?: IdentityResolver;
  readonly installationIdHeader: string;
  readonly mountInterceptor: boolean;
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly flushIntervalMs: number;
  readonly maxConcurrentRequests: number;
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly overflow: OverflowPolicy;
  readonly deliveryDeadlineMs: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly shutdownTimeoutMs: number;
  readonly catalog: Readonly<Record<string, Type<object>>>;
  readonly keyTypeGuard: KeyTypeGuardMode;
  /** Set in durable mode. */
  readonly durable?: ResolvedDurableOptions;
  readonly onError?: (failure: ChabokFailure) => void;
}

/**
 * Defaults, and why (e.g. `DEFAULT_OPTIONS.maxBatchSize === 500`):
 * - 500 events / 512 KiB per request: Chabok's bulk form takes arrays; 500 small events is
 *   ~75 KB, far from any proxy body limit, and amortises per-request cost ~500x.
 * - 1 s flush interval: events show up in Chabok within about a second, yet a busy app
 *   fills batches long before that.
 * - 2 concurrent requests: enough to hide one round-trip while the next batch fills,
 *   without opening a burst of sockets against Chabok.
 * - 100k events / 64 MiB held: minutes of backlog for a busy instance during an outage,
 *   with memory bounded whatever Chabok does.
 * - keyTypeGuard 'warn': a changed key type is a bug worth seeing, but Chabok still stores
 *   the event, so refusing it would lose data that is otherwise fine.
 *
 * @example
 * ChabokModule.forRoot({ ..., flushIntervalMs: DEFAULT_OPTIONS.flushIntervalMs / 2 });
 */
export const DEFAULT_OPTIONS = {
  timeoutMs: 10_000,
  enabled: true,
  dryRun: false,
  mountInterceptor: true,
  maxBatchSize: 500,
  maxBatchBytes: 512 * 1024,
  flushIntervalMs: 1_000,
  maxConcurrentRequests: 2,
  maxQueueSize: 100_000,
  maxQueueBytes: 64 * 1024 * 1024,
  overflow: 'drop-newest',
  deliveryDeadlineMs: 10 * 60_000,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 60_000,
  shutdownTimeoutMs: 5_000,
  keyTypeGuard: 'warn',
} as const satisfies Partial<ChabokModuleOptions>;
