/**
 * The result writes of one event-loop callback (and the promise jobs it started), sent to Redis as one script call
 * (result-scripts.ts STORE_AND_PUBLISH_MANY) rather than one call each: a worker finishing many
 * tasks at once pays one command, one reply and one script run for all of them. Each write still
 * resolves, or fails, on its own.
 *
 * A write must not be lost to an outage (the worker acknowledges the task once it resolves): a
 * batch that fails with a connection error, or whose script reports a retryable error for a key
 * (OOM, LOADING...), is sent again until Redis is back (core's retry routine with this adapter's
 * classification); only fatal errors, or closing, end it. Sending a batch twice is harmless: a
 * stored SUCCESS is never replaced, and a repeated write stores the same value.
 */
import { retryDriverOperation, type Logger } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { classifyRedisError } from './redis-errors.js';
import { STORE_AND_PUBLISH_MANY } from './result-scripts.js';

export interface ResultWritesOptions {
  /** The command connection; throws once the backend is closed. */
  readonly client: () => Redis;
  /** True once the backend is closed: retries stop. */
  readonly stopped: () => boolean;
  readonly logger: Logger;
  /** Names the backend in log lines. */
  readonly what: string;
}

interface PendingWrite {
  readonly key: string;
  readonly value: string;
  readonly ttlMs: number;
  readonly keepSuccess: boolean;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Most writes in one script call, so one call never holds Redis for long. */
const MAX_BATCH = 500;

export class ResultWrites {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: ResultWritesOptions) {}

  /**
   * Stores `value` at `key` (with a time to live in ms, 0 = none) and publishes it on the key's
   * channel; with `keepSuccess`, a stored SUCCESS is left as it is. Sent once the current callback
   * and its promise jobs are done.
   */
  write(key: string, value: string, ttlMs: number, keepSuccess: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ key, value, ttlMs, keepSuccess, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // Once the current callback and its promise jobs are done: every result a batch of tasks
      // stored in them goes together, ahead of the broker's next take (taken-messages.ts).
      process.nextTick(() => this.flush());
    });
  }

  /** Sends what is waiting now and resolves once every write sent so far is settled. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all([...this.inFlight]);
  }

  private flush(): void {
    this.scheduled = false;
    const writes = this.pending;
    this.pending = [];
    for (let i = 0; i < writes.length; i += MAX_BATCH) {
      const sending = this.send(writes.slice(i, i + MAX_BATCH));
      this.inFlight.add(sending);
      void sending.then(() => this.inFlight.delete(sending));
    }
  }

  private async send(batch: readonly PendingWrite[]): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const w of batch) {
      keys.push(w.key);
      args.push(w.value, w.ttlMs, w.keepSuccess ? '1' : '0');
    }
    const { stopped, logger, what } = this.options;
    let replies: unknown[];
    try {
      replies = await retryDriverOperation(
        async () => {
          const out = (await STORE_AND_PUBLISH_MANY.run(this.options.client(), keys, args)) as unknown[];
          // A key that could be written on another try (OOM, ...) sends the batch again.
          const retryable = out.find((r) => typeof r === 'string' && classifyRedisError(replyError(r)) !== 'fatal');
          if (typeof retryable === 'string') throw replyError(retryable);
          return out;
        },
        { classify: classifyRedisError, stopped, logger, what: `${what}: storing ${batch.length === 1 ? `the result of ${keys[0]}` : `${batch.length} results`}` },
      );
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const reply = replies[i];
      if (typeof reply === 'string') w.reject(replyError(reply));
      else w.resolve();
    });
  }
}

/** An error reply of the script for one key, shaped as ioredis's own (classified the same way). */
function replyError(message: string): Error {
  const err = new Error(message);
  err.name = 'ReplyError';
  return err;
}
