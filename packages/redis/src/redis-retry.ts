/**
 * Core's retry routine with this adapter's classification of ioredis errors (redis-errors.ts).
 */
import { abortableSleep, retryDriverOperation, type Logger } from '@celeriac/core';
import { classifyRedisError } from './redis-errors.js';

export interface RetryOptions {
  /** Checked before each new attempt; when true, the last error is thrown. */
  readonly stopped: () => boolean;
  readonly logger: Logger;
  /** Names the operation in log lines. */
  readonly what: string;
  /** @default 2000 */
  readonly maxDelayMs?: number;
}

export function retryRedis<T>(op: () => Promise<T>, options: RetryOptions): Promise<T> {
  return retryDriverOperation(op, { ...options, what: `redis broker: ${options.what}`, classify: classifyRedisError });
}

export const sleep = abortableSleep;
