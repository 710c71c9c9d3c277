import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { ConnectionOptions, Queue } from 'bullmq';
import { CHABOK_LOGGER_CONTEXT } from '../../chabok.constants.js';
import type { ResolvedChabokOptions } from '../../config/resolved-options.js';
import { ChabokConfigurationError } from '../../errors/chabok-configuration.error.js';
import type { ChabokTransport } from '../../interfaces/event-delivery.interface.js';
import { BatchingDelivery } from '../batching-delivery.js';
import { DurableDelivery, type ChabokJobData } from './durable-delivery.js';

/** How long boot waits for Redis before going on without it (the app must not fail to start). */
const READY_TIMEOUT_MS = 3_000;

/** bullmq is an optional peer: loaded only in durable mode, with a clear message if missing. */
async function loadBullMq(): Promise<typeof import('bullmq')> {
  try {
    return await import('bullmq');
  } catch {
    throw new ChabokConfigurationError([
      {
        path: 'delivery.mode',
        reason: "'durable' needs the optional peers bullmq and ioredis: npm install bullmq ioredis",
      },
    ]);
  }
}

/**
 * Producers fail fast while Redis is down (no offline queue), so track() can reject or fall
 * back at once instead of holding events in an invisible buffer.
 */
function producerConnection(connection: object): ConnectionOptions {
  if (typeof (connection as { duplicate?: unknown }).duplicate === 'function') return connection;
  return { ...(connection as object), enableOfflineQueue: false, maxRetriesPerRequest: 1 } as ConnectionOptions;
}

export async function createDurableDelivery(
  options: ResolvedChabokOptions,
  transport: ChabokTransport,
): Promise<DurableDelivery> {
  const durable = options.durable!;
  const bullmq = await loadBullMq();
  const queue: Queue<ChabokJobData> =
    (durable.queue as Queue<ChabokJobData> | undefined) ??
    new bullmq.Queue<ChabokJobData>(durable.queueName, {
      connection: producerConnection(durable.connection!),
      prefix: durable.prefix,
    });
  // Without a listener, BullMQ prints every connection error with its stack while boot waits.
  const quiet = (): void => undefined; // the warning below says it once; DurableDelivery logs the rest
  queue.on('error', quiet);
  const ready = await Promise.race([
    queue.waitUntilReady().then(
      () => true,
      () => false,
    ),
    sleep(READY_TIMEOUT_MS, false, { ref: false }),
  ]);
  if (!ready)
    new Logger(CHABOK_LOGGER_CONTEXT).warn(
      `Redis not reachable at boot; durable delivery will ${durable.onRedisDown === 'memory' ? 'fall back to memory' : 'reject events'} until it is`,
    );

  // Both engines share the transport, and each closes it (destroying its sockets) when its
  // own shutdown drain ends: that would cut the other's requests in flight. They get a view
  // without close(); DurableDelivery closes the transport once both are done.
  const shared: ChabokTransport = { send: (endpoint, body, signal) => transport.send(endpoint, body, signal) };
  // Worker engine: batches the jobs a worker holds; sized so they fill maxConcurrentRequests
  // batches. Its 'shutdown' failures are not reported: those jobs return to Redis.
  const workerEngine = new BatchingDelivery(
    {
      ...options,
      maxBatchSize: Math.min(options.maxBatchSize, Math.ceil(durable.concurrency / options.maxConcurrentRequests)),
      maxQueueSize: Math.max(options.maxQueueSize, durable.concurrency),
      onError: options.onError && ((failure) => failure.error.reason !== 'shutdown' && options.onError!(failure)),
    },
    shared,
  );
  const fallback = new BatchingDelivery(options, shared);
  const delivery = new DurableDelivery(
    options,
    durable,
    queue,
    workerEngine,
    fallback,
    bullmq,
    durable.queue === undefined,
    transport,
    ready,
  );
  queue.off('error', quiet);
  return delivery;
}
