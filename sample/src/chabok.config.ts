import { registerAs } from '@nestjs/config';
import type { ChabokModuleOptions } from 'nestjs-chabok';

/** Empty variables count as unset, so `CHABOK_APP_ID= npm start` behaves like leaving it out. */
const env = (name: string): string | undefined => process.env[name] || undefined;

/**
 * Chabok settings from the environment. ChabokModule validates them at bootstrap and
 * fails with one error listing every bad field (never echoing the token).
 */
export const chabokConfig = registerAs('chabok', (): ChabokModuleOptions => ({
  appId: env('CHABOK_APP_ID'),
  environment: env('CHABOK_ENVIRONMENT') as ChabokModuleOptions['environment'],
  accessToken: env('CHABOK_ACCESS_TOKEN'),
  baseUrl: env('CHABOK_BASE_URL'),
  flushIntervalMs: env('CHABOK_FLUSH_INTERVAL_MS') === undefined ? undefined : Number(env('CHABOK_FLUSH_INTERVAL_MS')),
}));

/** Whether the environment names a Chabok to talk to; without it the sample starts the local stand-in. */
export function chabokTargetInEnv(): boolean {
  return (
    env('CHABOK_APP_ID') !== undefined ||
    env('CHABOK_ENVIRONMENT') === 'sandbox' ||
    env('CHABOK_BASE_URL') !== undefined
  );
}
