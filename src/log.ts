import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/** One JSON object a line on stdout. */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'herald', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
