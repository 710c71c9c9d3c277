/**
 * A Nest LoggerService that keeps every line, so tests can count and inspect what was
 * logged (and check the access token never is). Shared by the e2e, reliability and
 * durable suites.
 */
import type { LoggerService } from '@nestjs/common';

export interface LogLine {
  readonly level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  readonly message: string;
  readonly context: string | undefined;
}

/** A Nest logger that keeps every line in memory. */
export class RecordingLogger implements LoggerService {
  readonly lines: LogLine[] = [];

  log(message: unknown, ...params: unknown[]): void {
    this.record('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.record('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.record('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.record('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.record('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.record('fatal', message, params);
  }

  /** Lines logged under the library's `Chabok` context, optionally of one level. */
  chabok(level?: LogLine['level']): LogLine[] {
    return this.lines.filter((l) => l.context === 'Chabok' && (level === undefined || l.level === level));
  }

  /** Lines logged under one context (the library logs under `Chabok`). */
  withContext(context: string): LogLine[] {
    return this.lines.filter((line) => line.context === context);
  }

  /** Every line, with its context and extra params (stacks), as one string: for "never contains" checks. */
  text(): string {
    return this.lines.map((line) => `${line.level} [${line.context ?? ''}] ${line.message}`).join('\n');
  }

  clear(): void {
    this.lines.length = 0;
  }

  private record(level: LogLine['level'], message: unknown, params: unknown[]): void {
    // Nest's Logger passes the context last; anything before it (e.g. a stack) is kept in the message.
    const context = typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined;
    const rest = (context === undefined ? params : params.slice(0, -1)).map(stringify);
    this.lines.push({ level, message: [stringify(message), ...rest].join(' '), context });
  }
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack ?? value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
