/**
 * The result writes of one event-loop turn, sent to Redis as one script call
 * (result-scripts.ts STORE_AND_PUBLISH_MANY) rather than one call each: a worker finishing many
 * tasks at once pays one command, one reply and one script run for all of them. Each write still
 * resolves, or fails, on its own.
 *
 * A first write (SetResultOptions.firstWrite: the worker knows of no earlier state for the task)
 * alone in its turn goes as plain commands instead (`plainFirst`), the key's guard done by `SET NX`:
 * a worker finishing one task at a time pays no script run for it. Several writes in one turn go
 * together in the script call, first writes too: per write, a few arguments of one command cost
 * the worker a fraction of the three commands and their promises that the plain way takes
 * (measured on a worker processing 20,000 queued no-op tasks at concurrency 100, its CPU the
 * limit: 22–23 µs of CPU per task against 26–28, and ~15 % more tasks per second).
 *
 * A write must not be lost to an outage (the worker acknowledges the task once it resolves): a
 * batch that fails with a connection error, or whose script reports a retryable error for a key
 * (OOM, LOADING...), is sent again until Redis is back (core's retry routine with this adapter's
 * classification); only fatal errors, or closing, end it. Sending a batch twice is harmless: a
 * stored SUCCESS is never replaced, and a repeated write stores the same value.
 */
import { retryDriverOperation, type Logger } from '@celeriac/core';
import type { Redis } from 'ioredis';
import type { Lane, Rider } from './shared-lane.js';
import { classifyRedisError } from './redis-errors.js';
import { corked } from './corked-writes.js';
import { STORE_AND_PUBLISH_MANY } from './result-scripts.js';

export interface ResultWritesOptions {
  /** The command connection; throws once the backend is closed. */
  readonly client: () => Redis;
  /** True once the backend is closed: retries stop. */
  readonly stopped: () => boolean;
  readonly logger: Logger;
  /** Names the backend in log lines. */
  readonly what: string;
  /** The lane shared with a broker on the same server and database (shared-lane.ts). */
  readonly lane?: Lane;
}

interface PendingWrite {
  readonly key: string;
  readonly value: string;
  readonly ttlMs: number;
  readonly keepSuccess: boolean;
  /** A channel to publish the value on too ('' = none). */
  readonly notify: string;
  /** No state was stored for the key before, as far as the writer knows: written without the script. */
  readonly firstWrite: boolean;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Most writes in one script call, so one call never holds Redis for long. */
const MAX_BATCH = 500;

export class ResultWrites implements Rider {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly leaveLane: () => void;
  /** Riding the lane: its takes board this one's writes (until leave()). */
  private riding: boolean;

  constructor(private readonly options: ResultWritesOptions) {
    this.leaveLane = options.lane?.join(this) ?? (() => {});
    this.riding = options.lane !== undefined;
  }

  /**
   * Stores `value` at `key` (with a time to live in ms, 0 = none) and publishes it on the key's
   * channel, and on `notify` unless it is ''; with `keepSuccess`, a stored SUCCESS is left as it
   * is (and nothing published, unless it is this very value: a resend, published again).
   * `firstWrite` (with `keepSuccess`): no state is known to be stored at `key`, so plain commands
   * may do (plainFirst). Sent once the current callback and its promise jobs are done.
   */
  write(key: string, value: string, ttlMs: number, keepSuccess: boolean, notify = '', firstWrite = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ key, value, ttlMs, keepSuccess, notify, firstWrite: firstWrite && keepSuccess, resolve, reject });
      // A take is coming at the end of this turn: it carries the writes (board()), or, dropped,
      // leaves them to another take still coming or hands them back to be sent at once.
      if (this.scheduled || (this.riding && this.options.lane!.takePending)) return;
      this.scheduled = true;
      // At the end of the turn: every result a batch of tasks stored in it goes together, in the
      // broker's take when one is coming (shared-lane.ts), else on its own.
      setImmediate(this.flushUnlessBoarding);
    });
  }

  /** Sends what is waiting now and resolves once every write sent so far is settled. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all([...this.inFlight]);
  }

  /** Stops riding the lane (the backend is closing). */
  leave(): void {
    this.riding = false;
    this.leaveLane();
  }

  /**
   * Rider: issues the writes waiting now on a take's (corked) connection, each batch with its own
   * callback; a batch whose command fails (connection lost, script not loaded...) goes again on
   * its own path.
   */
  board(client: Redis | null): void {
    if (client === null) return this.flush();
    const writes = this.plainFirst(client, this.pending);
    this.pending = [];
    for (let i = 0; i < writes.length; i += MAX_BATCH) {
      const batch = writes.slice(i, i + MAX_BATCH);
      const all = scriptArguments(batch);
      // Tracked until its reply (or its resend) is settled, so drain() waits for a ride too.
      let rode!: () => void;
      this.track(new Promise<void>((resolve) => (rode = resolve)));
      client.evalsha(STORE_AND_PUBLISH_MANY.sha, batch.length, all, (err?: Error | null, replies?: unknown) => {
        const out = replies as unknown[] | undefined;
        if (err || !Array.isArray(out) || out.some((r) => typeof r === 'string' && classifyRedisError(replyError(r)) !== 'fatal')) {
          void this.send(batch).then(rode);
          return;
        }
        settleBatch(batch, out);
        rode();
      });
    }
  }

  private readonly flushUnlessBoarding = (): void => {
    this.scheduled = false;
    // A take is coming at the end of this turn: it carries the writes (or hands them back).
    if (this.riding && this.options.lane!.takePending) return;
    this.flush();
  };

  private flush(): void {
    const writes = this.pending;
    this.pending = [];
    if (writes.length === 0) return;
    const sendAll = (rest: PendingWrite[]) => {
      for (let i = 0; i < rest.length; i += MAX_BATCH) this.track(this.send(rest.slice(i, i + MAX_BATCH)));
    };
    if (!alonePlain(writes)) return sendAll(writes);
    let client: Redis;
    try {
      client = this.options.client();
    } catch {
      // Closed: it goes the script's way, which reports it.
      return sendAll(writes);
    }
    // Its two or three commands leave in one socket write, as they do riding a take.
    corked(client, () => this.plainFirst(client, writes));
  }

  /**
   * Issues on `client` a first write that is alone in `writes` as plain commands (no script: on
   * Redis a script call costs tens of microseconds where these cost one or two each): `SET key
   * value PX ttl NX`, then PUBLISH on the key's channel and on `notify`. Returns the writes left
   * for the script: none, or all of them when there are several or the one is not a first write.
   * When the key exists after all (a state of an earlier delivery, or a SUCCESS of a duplicate run:
   * only possible when the same id runs twice without being marked redelivered) the write goes
   * through the guarded script, which keeps a stored SUCCESS. Unlike the script, the value was published
   * before that guard decided: over a stored SUCCESS, listeners heard one that is not kept; and
   * when Redis refuses the SET (out of memory, read-only), listeners heard one that is stored only
   * once the script's retries get it in.
   */
  private plainFirst(client: Redis, writes: PendingWrite[]): PendingWrite[] {
    if (!alonePlain(writes)) return writes;
    this.track(this.sendPlain(client, writes[0]!));
    return [];
  }

  private sendPlain(client: Redis, w: PendingWrite): Promise<void> {
    const set = w.ttlMs > 0 ? client.set(w.key, w.value, 'PX', w.ttlMs, 'NX') : client.set(w.key, w.value, 'NX');
    const published = client.publish(w.key, w.value);
    const told = w.notify === '' ? published : client.publish(w.notify, w.value);
    // Replies come in order: the last one says all three ran.
    return Promise.all([set, published, told]).then(
      ([stored]) => (stored === 'OK' ? w.resolve() : this.send([w])),
      // Connection lost, or a reply error: the script, with its retries (it publishes again a
      // value it finds already stored exactly so, our own write whose reply was lost).
      () => this.send([w]),
    );
  }

  private track(sending: Promise<void>): void {
    this.inFlight.add(sending);
    void sending.then(() => this.inFlight.delete(sending));
  }

  private async send(batch: readonly PendingWrite[]): Promise<void> {
    const all = scriptArguments(batch);
    const { stopped, logger, what } = this.options;
    let replies: unknown[];
    try {
      replies = await retryDriverOperation(
        async () => {
          const out = (await STORE_AND_PUBLISH_MANY.runFlat(this.options.client(), batch.length, all)) as unknown[];
          // A key that could be written on another try (OOM, ...) sends the batch again.
          const retryable = out.find((r) => typeof r === 'string' && classifyRedisError(replyError(r)) !== 'fatal');
          if (typeof retryable === 'string') throw replyError(retryable);
          return out;
        },
        { classify: classifyRedisError, stopped, logger, what: `${what}: storing ${batch.length === 1 ? `the result of ${all[0]}` : `${batch.length} results`}` },
      );
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    settleBatch(batch, replies);
  }
}

/**
 * Whether `writes` is one first write alone, which goes as plain commands; several writes go in
 * one script call, first writes too (see the top of the file).
 */
function alonePlain(writes: readonly PendingWrite[]): boolean {
  return writes.length === 1 && writes[0]!.firstWrite;
}

/** The script's KEYS then ARGV, as one list: the keys, then per key its value, ttl, guard and notify channel. */
function scriptArguments(batch: readonly PendingWrite[]): string[] {
  const all: string[] = new Array<string>(batch.length * 5);
  const n = batch.length;
  for (let i = 0; i < n; i++) {
    const w = batch[i]!;
    all[i] = w.key;
    const at = n + 4 * i;
    all[at] = w.value;
    all[at + 1] = String(w.ttlMs);
    all[at + 2] = w.keepSuccess ? '1' : '0';
    all[at + 3] = w.notify;
  }
  return all;
}

/** Resolves each write, or rejects it with its key's error reply. */
function settleBatch(batch: readonly PendingWrite[], replies: readonly unknown[]): void {
  batch.forEach((w, i) => {
    const reply = replies[i];
    if (typeof reply === 'string') w.reject(replyError(reply));
    else w.resolve();
  });
}

/** An error reply of the script for one key, shaped as ioredis's own (classified the same way). */
function replyError(message: string): Error {
  const err = new Error(message);
  err.name = 'ReplyError';
  return err;
}
