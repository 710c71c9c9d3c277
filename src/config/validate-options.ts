import { isIP } from 'node:net';
import { SANDBOX_BASE_URL, productionBaseUrl, DEFAULT_INSTALLATION_ID_HEADER } from '../chabok.constants.js';
import { ChabokConfigurationError } from '../errors/chabok-configuration.error.js';
import type { ChabokViolation } from '../errors/chabok.error.js';
import type { ChabokModuleOptions } from '../interfaces/chabok-options.interface.js';
import { DEFAULT_OPTIONS, type ResolvedChabokOptions } from './resolved-options.js';
import {
  resolveDurableOptions,
  type DurableDeliveryOptions,
  type ResolvedDurableOptions,
} from '../delivery/durable/durable-options.js';

/** A single DNS label: what Chabok app ids are. Anything else could redirect the token. */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
/** HTTP header token characters (RFC 9110), so the header name cannot smuggle anything. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

const KNOWN_KEYS = new Set<string>([
  'appId',
  'environment',
  'accessToken',
  'baseUrl',
  'identity',
  'installationIdHeader',
  'onError',
  'catalog',
  'delivery',
  ...Object.keys(DEFAULT_OPTIONS),
]);

/** Integer options and their allowed ranges. */
const INTEGER_RANGES: Record<string, [min: number, max: number]> = {
  timeoutMs: [1, 300_000],
  maxBatchSize: [1, 10_000],
  maxBatchBytes: [1_024, 16 * 1024 * 1024],
  flushIntervalMs: [0, 60_000],
  maxConcurrentRequests: [1, 64],
  maxQueueSize: [1, 10_000_000],
  maxQueueBytes: [1_024, 4 * 1024 * 1024 * 1024],
  deliveryDeadlineMs: [1, 7 * 24 * 3_600_000],
  retryBaseDelayMs: [1, 600_000],
  retryMaxDelayMs: [1, 3_600_000],
  shutdownTimeoutMs: [0, 600_000],
};

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Validates raw module options once, at bootstrap, and fills in defaults.
 * Throws one {@link ChabokConfigurationError} listing every bad field. Values are never
 * echoed in reasons, so a token pasted into the wrong field cannot leak either.
 */
export function validateOptions(raw: ChabokModuleOptions | undefined): ResolvedChabokOptions {
  const violations: ChabokViolation[] = [];
  const bad = (path: string, reason: string) => violations.push({ path, reason });

  if (raw === null || typeof raw !== 'object') {
    throw new ChabokConfigurationError([{ path: 'options', reason: 'must be an object' }]);
  }
  const o = { ...DEFAULT_OPTIONS, ...stripUndefined(raw) } as Required<
    Pick<ChabokModuleOptions, keyof typeof DEFAULT_OPTIONS>
  > &
    ChabokModuleOptions;

  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) bad(key, 'is not a ChabokModule option');
  }
  if (typeof o.enabled !== 'boolean') bad('enabled', 'must be a boolean');
  if (typeof o.mountInterceptor !== 'boolean') bad('mountInterceptor', 'must be a boolean');
  if (typeof o.dryRun !== 'boolean') bad('dryRun', 'must be a boolean');
  const enabled = o.enabled !== false;

  // Where events go: baseUrl overrides, else sandbox, else the app's production host.
  let baseUrl = '';
  if (o.environment !== undefined && o.environment !== 'production' && o.environment !== 'sandbox') {
    bad('environment', "must be 'production' or 'sandbox'");
  }
  if (o.appId !== undefined && (typeof o.appId !== 'string' || !DNS_LABEL.test(o.appId))) {
    bad(
      'appId',
      "must be a single DNS label (letters, digits and '-', at most 63), without dots, slashes, '@' or spaces",
    );
  }
  if (o.baseUrl !== undefined) {
    const url = typeof o.baseUrl === 'string' ? safeUrl(o.baseUrl) : undefined;
    if (!url) bad('baseUrl', 'must be an absolute URL');
    else if (url.username || url.password) bad('baseUrl', 'must not contain credentials');
    else if (url.search || url.hash) bad('baseUrl', 'must not contain a query or fragment');
    else if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      bad('baseUrl', 'must use https (plain http is allowed only on a loopback address)');
    } else baseUrl = url.href.replace(/\/+$/, '');
  } else if (o.environment === 'sandbox') {
    baseUrl = SANDBOX_BASE_URL;
  } else if (typeof o.appId === 'string' && DNS_LABEL.test(o.appId)) {
    baseUrl = productionBaseUrl(o.appId.toLowerCase());
  } else if (o.appId === undefined && enabled) {
    bad('appId', "is required (or set environment: 'sandbox', or baseUrl)");
  }

  if (o.accessToken === undefined || o.accessToken === '') {
    // Nothing is sent when disabled or in a dry run, so no token is needed there.
    if (enabled && o.dryRun !== true) bad('accessToken', 'is required');
  } else if (typeof o.accessToken !== 'string') {
    bad('accessToken', 'must be a string');
  } else if (/[\s\u0000-\u001f\u007f]/.test(o.accessToken)) {
    bad('accessToken', 'must not contain whitespace or control characters');
  }

  for (const [key, [min, max]] of Object.entries(INTEGER_RANGES)) {
    const v = (o as unknown as Record<string, unknown>)[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      bad(key, `must be an integer from ${min} to ${max}`);
    }
  }
  if (o.maxBatchBytes > o.maxQueueBytes) bad('maxBatchBytes', 'must not exceed maxQueueBytes');
  if (o.retryBaseDelayMs > o.retryMaxDelayMs) bad('retryBaseDelayMs', 'must not exceed retryMaxDelayMs');
  if (o.overflow !== 'drop-newest' && o.overflow !== 'drop-oldest')
    bad('overflow', "must be 'drop-newest' or 'drop-oldest'");
  if (o.identity !== undefined && typeof o.identity !== 'function') bad('identity', 'must be a function');
  if (o.onError !== undefined && typeof o.onError !== 'function') bad('onError', 'must be a function');
  if (!['warn', 'reject', 'off'].includes(o.keyTypeGuard)) bad('keyTypeGuard', "must be 'warn', 'reject' or 'off'");
  if (o.catalog !== undefined) {
    if (o.catalog === null || typeof o.catalog !== 'object')
      bad('catalog', 'must be an object of event name to DTO class');
    else
      for (const [name, cls] of Object.entries(o.catalog))
        if (typeof cls !== 'function') bad(`catalog.${name}`, 'must be a class');
  }
  const header = o.installationIdHeader ?? DEFAULT_INSTALLATION_ID_HEADER;
  if (typeof header !== 'string' || !HEADER_NAME.test(header))
    bad('installationIdHeader', 'must be a valid HTTP header name');

  let durable: ResolvedDurableOptions | undefined;
  const delivery = o.delivery as { mode?: unknown } | undefined;
  if (delivery !== undefined) {
    if (delivery === null || typeof delivery !== 'object')
      bad('delivery', "must be { mode: 'memory' } or { mode: 'durable', ... }");
    else if (delivery.mode === 'durable')
      durable = resolveDurableOptions(delivery as DurableDeliveryOptions, violations);
    else if (delivery.mode !== 'memory' || Object.keys(delivery).length > 1)
      bad('delivery.mode', "must be 'memory' or 'durable'");
  }

  if (violations.length > 0) throw new ChabokConfigurationError(violations);

  return {
    ...o,
    baseUrl,
    accessToken: o.accessToken ?? '',
    catalog: o.catalog ?? {},
    durable,
    installationIdHeader: header.toLowerCase(),
  };
}

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
