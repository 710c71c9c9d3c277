/**
 * The sample app's entry point: `npm start` (from the repository root).
 * See README.md next to this file; the app itself is in src/.
 */
import { Logger } from '@nestjs/common';
import { bootstrap } from './src/bootstrap.js';

try {
  await bootstrap({ port: process.env.PORT ? Number(process.env.PORT) : 3000, host: process.env.HOST || undefined });
} catch (error) {
  // E.g. a ChabokConfigurationError listing every bad CHABOK_* setting (never the token),
  // or the port already in use.
  new Logger('Sample').error(`Not started: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
