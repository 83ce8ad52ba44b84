/**
 * One `consume()` call on the Redis broker: a loop that takes as many messages as the prefetch
 * credit allows, in one atomic script per batch (take + record in `unacked`), and waits for more
 * without polling hard.
 *
 * Waiting: when a take finds nothing, the consumer blocks on its own connection with
 * `BLMOVE <list> <list> RIGHT RIGHT <timeout>` on one queue's main list (priority 0–2, where
 * almost every message goes). Moving a list's tail to its own tail changes nothing, so it returns
 * as soon as that list is non-empty without taking anything, and the next take (atomic, unlike
 * kombu's BRPOP followed by HSET) gets the message. Messages on the consumer's other lists (priority
 * steps 3/6/9, other queues) are seen by the take after at most `blockTimeoutMs` (default 200 ms):
 * that is the trade-off for never popping outside the atomic script. The list blocked on rotates
 * with the queues, and an idle consumer costs Redis about one BLMOVE and one take per timeout.
 *
 * Errors: a failed take or wait (Redis restarting, network gone) moves the consumer to `waiting`;
 * it waits for the connection to come back (or backs off, for errors that are not about the
 * connection), then resumes. It never gives up until cancelled.
 */
import { ConfigError, Lifecycle, type Consumer, type Delivery, type Logger } from '@celeriac/core';
import type { BrokerConnection } from './broker-connection.js';
import { classifyRedisError } from './redis-errors.js';
import { sleep } from './redis-retry.js';

/** What one take returned. */
export interface TakeBatch {
  /** The queue order to use for the next take (round-robin state kept by the script). */
  readonly order: readonly number[];
  readonly deliveries: readonly Delivery[];
  /** How many messages the take set aside as malformed (no delivery to hand over). */
  readonly deadLettered: number;
}

/** What the consumer needs from its broker. */
export interface ConsumerHost {
  readonly blockTimeoutMs: number;
  readonly logger: Logger;
  /** Takes up to `limit` messages from `queues`, tried in `order` (indices into `queues`). */
  take(consumer: RedisConsumer, queues: readonly string[], order: readonly number[], limit: number): Promise<TakeBatch>;
  /** The Redis key of a queue's main list. */
  mainList(queue: string): string;
  /** A new connection for blocking commands (one per consumer). */
  blockingConnection(): BrokerConnection;
  /** Waits for the command connection to be ready (or the signal to abort). */
  commandReady(signal: AbortSignal): Promise<void>;
  /** Returns deliveries that were taken but never handed to the caller. */
  giveBack(deliveries: readonly Delivery[]): Promise<void>;
  /** The consumer stopped. */
  forget(consumer: RedisConsumer): void;
}

export type ConsumerState = 'consuming' | 'waiting' | 'cancelled';

const TRANSITIONS: Readonly<Record<ConsumerState, readonly ConsumerState[]>> = {
  consuming: ['waiting', 'cancelled'],
  waiting: ['consuming', 'cancelled'],
  cancelled: [],
};

/** Upper bound on one take, so one script never holds Redis for long. */
const MAX_BATCH = 500;
const MAX_BACKOFF_MS = 5000;

export class RedisConsumer implements Consumer {
  private readonly lifecycle: Lifecycle<ConsumerState>;
  private prefetch: number;
  private unsettled = 0;
  private order: number[];
  private blocking: BrokerConnection | null = null;
  /** Aborted on cancel: ends every wait of the loop. */
  private readonly stop = new AbortController();
  /** Resolved when credit may have been freed. */
  private creditWaiter: (() => void) | null = null;
  private readonly loop: Promise<void>;

  constructor(
    private readonly host: ConsumerHost,
    private readonly queues: readonly string[],
    private readonly onDelivery: (delivery: Delivery) => void,
    prefetch: number,
  ) {
    this.prefetch = checkPrefetch(prefetch);
    this.order = queues.map((_, i) => i);
    this.lifecycle = new Lifecycle(`redis consumer ${queues.join(',')}`, 'consuming', TRANSITIONS, host.logger);
    this.loop = this.run();
  }

  get state(): ConsumerState {
    return this.lifecycle.state;
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = checkPrefetch(prefetch);
    this.wakeForCredit();
  }

  async cancel(): Promise<void> {
    if (!this.lifecycle.is('cancelled')) {
      this.lifecycle.set('cancelled');
      this.stop.abort();
      this.wakeForCredit();
      // Ends a BLMOVE in progress at once instead of after its timeout.
      void this.blocking?.close();
      this.host.forget(this);
    }
    await this.loop;
  }

  /** A delivery of this consumer was settled: one more credit. */
  settled(): void {
    this.unsettled--;
    this.wakeForCredit();
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (!this.stop.signal.aborted) {
      const credit = this.prefetch - this.unsettled;
      if (credit <= 0) {
        await new Promise<void>((resolve) => (this.creditWaiter = resolve));
        continue;
      }
      try {
        const batch = await this.untilCancelled(this.host.take(this, this.queues, this.order, Math.min(credit, MAX_BATCH)));
        if (!batch) break;
        this.order = [...batch.order];
        if (this.lifecycle.is('waiting')) this.lifecycle.set('consuming');
        backoff = 100;
        this.handOver(batch.deliveries);
        if (batch.deliveries.length > 0 || batch.deadLettered > 0) continue;
        await this.block();
      } catch (err) {
        if (this.stop.signal.aborted) break;
        backoff = await this.recover(err, backoff);
      }
    }
  }

  /**
   * The take, unless the consumer is cancelled first: then the loop stops without waiting (Redis
   * may be away for long), and a batch that still arrives later is given back.
   */
  private async untilCancelled(taking: Promise<TakeBatch>): Promise<TakeBatch | null> {
    const batch = await untilAborted(taking, this.stop.signal);
    if (batch === null) {
      taking.then((late) => this.host.giveBack(late.deliveries)).catch(() => undefined);
    }
    return batch;
  }

  /**
   * Hands a batch to the caller. The handler may cancel this consumer; what it has not been handed
   * yet goes back, without the loop (and so cancel()) waiting on Redis for it: if the broker
   * closes first, its own give-back covers them.
   */
  private handOver(deliveries: readonly Delivery[]): void {
    for (let i = 0; i < deliveries.length; i++) {
      if (this.stop.signal.aborted) {
        this.host.giveBack(deliveries.slice(i)).catch((err: unknown) => {
          this.host.logger.warn('redis broker: giving back undelivered messages failed; they return after the visibility timeout', { error: (err as Error).message });
        });
        return;
      }
      const delivery = deliveries[i]!;
      this.unsettled++;
      try {
        this.onDelivery(delivery);
      } catch (err) {
        this.host.logger.error('redis broker: the delivery handler threw', { error: err, queue: delivery.queue });
      }
    }
  }

  /** Waits until the first queue in the current order has something, or the block timeout. */
  private async block(): Promise<void> {
    if (this.stop.signal.aborted) return;
    this.blocking ??= this.host.blockingConnection();
    const list = this.host.mainList(this.queues[this.order[0] ?? 0]!);
    await untilAborted(this.blocking.client.blmove(list, list, 'RIGHT', 'RIGHT', this.host.blockTimeoutMs / 1000), this.stop.signal);
  }

  /** After a failed take or wait: log, wait for the connection or back off; returns the next backoff. */
  private async recover(err: unknown, backoff: number): Promise<number> {
    const kind = classifyRedisError(err);
    if (this.lifecycle.is('consuming')) {
      this.lifecycle.set('waiting');
      const log = kind === 'fatal' ? this.host.logger.error : this.host.logger.warn;
      log.call(this.host.logger, `redis consumer ${this.queues.join(',')}: ${kind === 'fatal' ? 'unexpected error' : 'Redis unavailable'}; retrying`, { error: (err as Error)?.message });
    }
    if (kind === 'reconnect') await this.host.commandReady(this.stop.signal);
    await sleep(backoff, this.stop.signal);
    return Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  private wakeForCredit(): void {
    const wake = this.creditWaiter;
    this.creditWaiter = null;
    wake?.();
  }
}

/** `promise`'s value, or null as soon as `signal` aborts (the listener is removed either way). */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return null;
  let onAbort: () => void = () => {};
  const aborted = new Promise<null>((resolve) => {
    onAbort = () => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export function checkPrefetch(prefetch: number): number {
  if (!Number.isInteger(prefetch) || prefetch < 1) {
    throw new ConfigError(`consume option "prefetch" must be a positive integer, got ${JSON.stringify(prefetch)}`);
  }
  return prefetch;
}
