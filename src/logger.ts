// pino JSON logs; key material and authorization headers are redacted wherever they appear.

import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export const REDACTED_PATHS = [
  'apiKey',
  'key',
  '*.apiKey',
  '*.key',
  'headers["x-api-key"]',
  'headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
  'adminToken',
  '*.adminToken',
];

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'tollgate' },
  };
  return destination ? pino(options, destination as never) : pino(options);
}
