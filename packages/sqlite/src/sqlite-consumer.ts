/**
 * One `consume()` call on the SQLite broker: a polling loop that takes as many messages as the
 * prefetch credit allows, in one transaction, whenever there may be something to take.
 *
 * It looks again at once when woken (a commit in this process, or a change of the `-wal` file by
 * another process) or when a delivery is settled (credit freed); otherwise after a pause that
 * starts at 1 ms and doubles up to the poll interval while the queues stay empty. Delayed messages
 * and expired leases are picked up by these looks too, so nothing depends on a wake-up arriving.
 */
import { checkPrefetch, Lifecycle, type Consumer, type Delivery, type Logger } from '@celeriac/core';

/** What the consumer needs from its broker. */
export interface ConsumerHost {
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  /** Leases up to `limit` messages from `queues` (tried in this order) to this consumer. */
  take(queues: readonly string[], limit: number, consumer: SqliteConsumer): Delivery[];
  /** Calls `listener` whenever the database may have changed; returns the unsubscribe function. */
  listen(listener: () => void): () => void;
  /** The consumer stopped; the broker forgets it. */
  forget(consumer: SqliteConsumer): void;
  /** Returns taken deliveries that were never handed to the caller. */
  giveBack(deliveries: readonly Delivery[]): void;
}

export type ConsumerState = 'consuming' | 'cancelled';

const TRANSITIONS: Readonly<Record<ConsumerState, readonly ConsumerState[]>> = {
  consuming: ['cancelled'],
  cancelled: [],
};

/** Upper bound on one take, so one transaction never holds the write lock for long. */
const MAX_BATCH = 256;

export class SqliteConsumer implements Consumer {
  private readonly lifecycle: Lifecycle<ConsumerState>;
  private prefetch: number;
  private unsettled = 0;
  /** Rotates the first queue tried, so several queues are served fairly. */
  private next = 0;
  private backoffMs = 1;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly stopListening: () => void;

  constructor(
    private readonly host: ConsumerHost,
    private readonly queues: readonly string[],
    private readonly onDelivery: (delivery: Delivery) => void,
    prefetch: number,
  ) {
    this.prefetch = checkPrefetch(prefetch);
    this.lifecycle = new Lifecycle(`sqlite consumer ${queues.join(',')}`, 'consuming', TRANSITIONS, host.logger);
    this.stopListening = host.listen(() => this.wake());
    this.wake();
  }

  get state(): ConsumerState {
    return this.lifecycle.state;
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = checkPrefetch(prefetch);
    this.wake();
  }

  async cancel(): Promise<void> {
    this.stop();
  }

  /** Stops polling (cancel, or the broker closing). Deliveries already made stay with the caller. */
  stop(): void {
    if (this.lifecycle.is('cancelled')) return;
    this.lifecycle.set('cancelled');
    this.stopListening();
    this.clearTimers();
    this.host.forget(this);
  }

  /** A delivery of this consumer was settled: one more credit. */
  settled(): void {
    this.unsettled--;
    this.wake();
  }

  /** Something may have changed: look soon, and restart the backoff. */
  private wake(): void {
    if (!this.lifecycle.is('consuming')) return;
    this.backoffMs = 1;
    if (this.immediate || this.unsettled >= this.prefetch) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.immediate = setImmediate(() => this.poll());
  }

  private poll(): void {
    this.clearTimers();
    if (!this.lifecycle.is('consuming')) return;
    const credit = this.prefetch - this.unsettled;
    if (credit <= 0) return; // settled() wakes us
    const limit = Math.min(credit, MAX_BATCH);
    const order = this.queues.map((_, i) => this.queues[(this.next + i) % this.queues.length]!);
    this.next = (this.next + 1) % this.queues.length;
    let deliveries: Delivery[];
    try {
      deliveries = this.host.take(order, limit, this);
    } catch (err) {
      // Usually SQLITE_BUSY after the busy timeout (another process held the lock that long).
      this.host.logger.warn('sqlite broker: taking messages failed; retrying', { error: err, queues: this.queues });
      this.schedule(this.host.pollIntervalMs);
      return;
    }
    for (let i = 0; i < deliveries.length; i++) {
      // The handler may cancel this consumer; what it has not been handed yet goes back.
      if (!this.lifecycle.is('consuming')) {
        this.unsettled += deliveries.length - i;
        this.host.giveBack(deliveries.slice(i));
        return;
      }
      const delivery = deliveries[i]!;
      this.unsettled++;
      try {
        this.onDelivery(delivery);
      } catch (err) {
        this.host.logger.error('sqlite broker: the delivery handler threw', { error: err, queue: delivery.queue });
      }
    }
    if (deliveries.length === limit) {
      this.schedule(0); // there may be more, and credit may remain
    } else if (deliveries.length > 0) {
      this.backoffMs = 1;
      this.schedule(this.backoffMs);
    } else {
      this.schedule(this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, this.host.pollIntervalMs);
    }
  }

  private schedule(ms: number): void {
    if (!this.lifecycle.is('consuming') || this.unsettled >= this.prefetch) return;
    // Deliberately not unref'd: an active consumer keeps its process alive, as an open socket
    // to a broker server would. cancel() and the broker's close() clear it.
    this.timer = setTimeout(() => this.poll(), ms);
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }
}

