/**
 * A delivery of the Redis broker (taken-messages.ts hands them out) and what it reports to: the
 * consumer it was taken for, which counts its prefetch credit.
 */
import type { Delivery, RawMessage } from '@celeriac/core';
import type { Held, HeldDeliveries } from './held-deliveries.js';

/** The consumer a take is for: told when the caller settles a delivery; asked whether it stopped. */
export interface CreditSink {
  settled(): void;
  /**
   * How many messages the next take may bring, read as it is sent (at the end of the turn), so
   * that every credit freed in the turn counts: a worker whose tasks finish together asks once for
   * all of them rather than once per task.
   */
  readonly credit: number;
  /** True once it was cancelled: a take not yet sent is not sent. */
  readonly cancelled: boolean;
}

export interface Settler {
  readonly held: Held;
  readonly settle: (op: () => Promise<unknown>) => Promise<void>;
}

const SETTLED = Promise.resolve();

/**
 * A delivery of this broker, settled at most once. A class rather than an object of closures:
 * one allocation per message, and no side table to find its held entry.
 */
export class RedisDelivery implements Delivery, Settler {
  readonly queue: string;
  readonly deliveryTag: string;
  readonly priority: number;
  private settled = false;
  /** Given back before the caller saw it (cancel mid-batch): not this broker's to settle any more. */
  givenBack = false;

  constructor(
    readonly message: RawMessage,
    readonly redelivered: boolean,
    readonly held: Held,
    readonly owner: HeldDeliveries,
    private readonly consumer: CreditSink,
  ) {
    this.queue = held.queue;
    this.deliveryTag = held.tag;
    this.priority = held.priority;
  }

  ack(): Promise<void> {
    return this.claim() ? this.owner.ack(this.held) : SETTLED;
  }

  reject(requeue: boolean): Promise<void> {
    if (!this.claim()) return SETTLED;
    return requeue ? this.owner.requeue(this.held) : this.owner.ack(this.held);
  }

  async settle(op: () => Promise<unknown>): Promise<void> {
    if (this.claim()) await op();
  }

  /** True for the first settle while the message is still held (after close() it already went back). */
  private claim(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (!this.owner.has(this.held)) return false;
    this.held.settling = true;
    this.consumer.settled();
    return true;
  }
}
