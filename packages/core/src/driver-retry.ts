/**
 * The one routine that applies an adapter's classification of driver errors (STYLE rule 7) to an
 * operation that must eventually happen (an ack, a lease renewal, giving messages back):
 * `reconnect` and `retry` errors are tried again after a pause that doubles up to a cap, until the
 * operation succeeds or the caller says to stop; `fatal` errors are thrown at once.
 *
 * Each adapter supplies `classify`: which of its driver's errors mean "the connection is gone, the
 * driver is reconnecting" (`reconnect`), "the server is there but cannot serve now" (`retry`), or
 * "trying again will not help" (`fatal`).
 */
import type { Logger } from './logger.js';

export type DriverErrorClass = 'reconnect' | 'retry' | 'fatal';

export interface DriverRetryOptions {
  readonly classify: (err: unknown) => DriverErrorClass;
  /** Checked before each new attempt; when true, the last error is thrown. */
  readonly stopped: () => boolean;
  readonly logger: Logger;
  /** Names the operation in log lines. */
  readonly what: string;
  /** @default 50 */
  readonly initialDelayMs?: number;
  /** @default 2000 */
  readonly maxDelayMs?: number;
}

export async function retryDriverOperation<T>(op: () => Promise<T>, options: DriverRetryOptions): Promise<T> {
  let delay = options.initialDelayMs ?? 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (options.classify(err) === 'fatal' || options.stopped()) throw err;
      if (attempt === 1) options.logger.warn(`${options.what} failed; retrying`, { error: (err as Error).message });
      await abortableSleep(delay);
      delay = Math.min(delay * 2, options.maxDelayMs ?? 2000);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
