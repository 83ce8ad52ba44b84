/**
 * One `consume()` call on the Redis broker: a loop that takes as many messages as the prefetch
 * credit allows, in one atomic script per batch (take + record in `unacked`), and waits for more
 * without polling hard.
 *
 * Batches: with a prefetch of 8 or more, a take asks for at most half of it, and when a take comes
 * back full the next one is sent at once, before the batch is handed over (its credit counted as
 * used): Redis runs that take while this process runs the batch. Only one take is out at a time,
 * so the credit is never exceeded; a take still out when the consumer is cancelled gives back what
 * it brings.
 *
 * Waiting: when a take comes back with less than it asked for (the lists were empty), the consumer
 * blocks on its own connection with `BLMOVE <list> <landing list> RIGHT LEFT <timeout>` on one
 * queue's main list (priority 0–2, where almost every message goes): a message pushed onto the
 * idle queue moves, atomically, into a list of the consumer's own (landing.ts) and arrives with
 * the reply, in one round trip and with no script run; an `EXISTS` of all the consumer's lists,
 * right behind the wait, says whether more is queued (a burst, another priority step, another
 * queue), and then the next step is a take. Messages on the lists the wait does not watch are
 * seen when it returns: with the next message on the watched list, or after at most
 * `blockTimeoutMs` (default 200 ms). The list waited
 * on rotates with the queues, and an idle consumer costs Redis one BLMOVE and one EXISTS per
 * timeout.
 *
 * Cancelling ends a wait in progress at once (CLIENT UNBLOCK from the command connection, when the
 * server allows it; otherwise the wait runs out its timeout), then gives back whatever the wait
 * got, before `cancel()` resolves.
 *
 * Errors: a failed take or wait (Redis restarting, network gone) moves the consumer to `waiting`;
 * it waits for the connection to come back (or backs off, for errors that are not about the
 * connection), then resumes. It never gives up until cancelled.
 */
import { checkPrefetch, Lifecycle, type Consumer, type Delivery, type Logger } from '@celeriac/core';
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
  /** How many it asked for (0: not sent). */
  readonly asked: number;
  /**
   * Whether the lists were seen empty after it (a wait's EXISTS): the next step waits. Unset for
   * a take, where fewer messages than asked for says so.
   */
  readonly empty?: boolean;
}

/** What the consumer needs from its broker. */
export interface ConsumerHost {
  readonly blockTimeoutMs: number;
  readonly logger: Logger;
  /**
   * Takes up to `consumer.credit` messages from `queues`, tried in `order` (indices into `queues`),
   * at the end of this turn; with `now`, up to `now` messages, sent at once.
   */
  take(consumer: RedisConsumer, queues: readonly string[], order: readonly number[], now?: number): Promise<TakeBatch>;
  /** Waits on `blocking` for `list` to have something (or the block timeout), then takes as `take`. */
  waitAndTake(consumer: RedisConsumer, blocking: BrokerConnection, list: string, queues: readonly string[], order: readonly number[]): Promise<TakeBatch>;
  /** Ends the blocking command of the connection with this CLIENT ID (as if it timed out). */
  unblock(clientId: number): Promise<void>;
  /** The Redis key of a queue's main list. */
  mainList(queue: string): string;
  /** A new connection for blocking commands (one per consumer). */
  blockingConnection(): BrokerConnection;
  /** Waits for the command connection to be ready (or the signal to abort). */
  commandReady(signal: AbortSignal): Promise<void>;
  /** Whether the command connection is up now. */
  commandsReady(): boolean;
  /** Returns deliveries that were taken but never handed to the caller. */
  giveBack(deliveries: readonly Delivery[]): Promise<void>;
  /** The consumer stopped. */
  forget(consumer: RedisConsumer): void;
  /** The consumer's loop is over: what it kept in Redis for its waits (landing.ts) goes. */
  release(consumer: RedisConsumer): Promise<void>;
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
  /** The blocking connection's CLIENT ID on its current connection (for CLIENT UNBLOCK). */
  private blockingId: number | null = null;
  private learningId = false;
  /** Repeats CLIENT UNBLOCK while cancel() waits for the wait in progress (see unblock()). */
  private unblocking: NodeJS.Timeout | null = null;
  /** Aborted on cancel: ends every wait of the loop. */
  private readonly stop = new AbortController();
  /** Set with `stop` aborting: what the loop and each delivery read (an AbortSignal's getters cost more). */
  private stopped = false;
  /** Resolved when credit may have been freed. */
  private creditWaiter: (() => void) | null = null;
  /** The take in progress: what cancel() cuts short, and whether it waits on the blocking connection. */
  private current: { readonly interrupt: () => void; readonly waiting: boolean } | null = null;
  /** Batches that arrived after cancel() are given back; cancel() waits for that (bounded). */
  private readonly late = new Set<Promise<void>>();
  private readonly loop: Promise<void>;
  /** The main list of each queue (the key a wait blocks on), by the queue's index in `queues`. */
  private readonly mainLists: readonly string[];

  constructor(
    private readonly host: ConsumerHost,
    private readonly queues: readonly string[],
    private readonly onDelivery: (delivery: Delivery) => void,
    prefetch: number,
  ) {
    this.prefetch = checkPrefetch(prefetch);
    this.order = queues.map((_, i) => i);
    this.mainLists = queues.map((q) => host.mainList(q));
    this.lifecycle = new Lifecycle(`redis consumer ${queues.join(',')}`, 'consuming', TRANSITIONS, host.logger);
    this.loop = this.run();
  }

  get state(): ConsumerState {
    return this.lifecycle.state;
  }

  get cancelled(): boolean {
    return this.stopped;
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = checkPrefetch(prefetch);
    this.wakeForCredit();
  }

  async cancel(): Promise<void> {
    if (!this.lifecycle.is('cancelled')) {
      this.lifecycle.set('cancelled');
      const waiting = this.current?.waiting === true;
      this.stopped = true;
      this.stop.abort();
      this.wakeForCredit();
      this.current?.interrupt();
      this.host.forget(this);
      if (waiting) this.unblock();
    }
    await this.loop;
    if (this.late.size > 0) {
      // Bounded: a wait that could not be cut short ends within its timeout. A batch whose
      // connection is down is not waited for: it stays in unacked, restored after the visibility
      // timeout, as kombu's would.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.host.blockTimeoutMs + 1000)));
      await Promise.race([Promise.all([...this.late]), bound]);
      clearTimeout(timer);
    }
    this.stopUnblocking();
    // Queued behind a wait still in progress, QUIT lets its take's reply arrive first.
    await this.blocking?.close();
    await this.host.release(this).catch((err: unknown) => {
      this.host.logger.warn('redis broker: could not forget a consumer\'s landing lists; a sweep does once its key expires', { error: (err as Error).message });
    });
  }

  /** Messages the next take may bring: the prefetch credit left, at most one batch. */
  get credit(): number {
    return Math.min(this.prefetch - this.unsettled, this.batchLimit);
  }

  /**
   * Most messages one take asks for: half the prefetch when it is 8 or more, so that a second take
   * can be on its way while the first batch runs (see run()); all of it for a small prefetch.
   */
  private get batchLimit(): number {
    return Math.min(MAX_BATCH, this.prefetch >= 8 ? Math.ceil(this.prefetch / 2) : this.prefetch);
  }

  /** A delivery of this consumer was settled: one more credit. */
  settled(): void {
    this.unsettled--;
    this.wakeForCredit();
  }

  private async run(): Promise<void> {
    let backoff = 100;
    // The last take found the lists empty: wait for a message before taking again.
    let idle = false;
    // A take sent before the last batch was handed over (see below); awaited next.
    let ahead: Promise<TakeBatch> | null = null;
    while (!this.stopped) {
      if (!ahead && this.credit <= 0) {
        await new Promise<void>((resolve) => (this.creditWaiter = resolve));
        continue;
      }
      try {
        const waiting = !ahead && idle;
        const taking = ahead ?? (idle ? this.waitAndTake() : this.host.take(this, this.queues, this.order));
        ahead = null;
        const batch = await this.untilCancelled(taking, waiting);
        if (!batch) break;
        this.order = [...batch.order];
        if (this.lifecycle.is('waiting')) this.lifecycle.set('consuming');
        backoff = 100;
        // Fewer than asked for means the lists ran dry: the next take waits for a message.
        if (batch.empty !== undefined) idle = batch.empty;
        else if (batch.asked > 0) idle = batch.deliveries.length + batch.deadLettered < batch.asked;
        // A full batch: more is likely queued. With credit left after this batch, the next take
        // goes out now, before this batch runs, so Redis prepares it while this process works.
        const left = this.prefetch - this.unsettled - batch.deliveries.length;
        if (!idle && left > 0) ahead = this.host.take(this, this.queues, this.order, Math.min(left, this.batchLimit));
        this.handOver(batch.deliveries);
      } catch (err) {
        if (this.stopped) break;
        idle = false;
        backoff = await this.recover(err, backoff);
      }
    }
    // Cancelled with a take still out: what it brings goes back.
    if (ahead) this.giveBackLate(ahead);
  }

  private giveBackLate(taking: Promise<TakeBatch>): void {
    const back = taking.then((late) => this.host.giveBack(late.deliveries)).catch(() => undefined);
    this.late.add(back);
    void back.then(() => this.late.delete(back));
  }

  /**
   * The take, unless the consumer is cancelled first: then the loop stops without waiting (Redis
   * may be away for long), and a batch that still arrives later is given back.
   */
  private untilCancelled(taking: Promise<TakeBatch>, waiting: boolean): Promise<TakeBatch | null> {
    return new Promise<TakeBatch | null>((resolve, reject) => {
      const current = {
        waiting,
        interrupt: () => {
          resolve(null);
          const back = taking.then((late) => this.host.giveBack(late.deliveries)).catch(() => undefined);
          const up = waiting ? this.blocking?.state === 'ready' : this.host.commandsReady();
          if (!up) return;
          this.late.add(back);
          void back.then(() => this.late.delete(back));
        },
      };
      this.current = current;
      const done = () => {
        if (this.current === current) this.current = null;
      };
      taking.then(
        (batch) => {
          done();
          resolve(batch);
        },
        (err: unknown) => {
          done();
          reject(err);
        },
      );
      if (this.stopped) current.interrupt();
    });
  }

  /**
   * Hands a batch to the caller. The handler may cancel this consumer; what it has not been handed
   * yet goes back, without the loop (and so cancel()) waiting on Redis for it: if the broker
   * closes first, its own give-back covers them.
   */
  private handOver(deliveries: readonly Delivery[]): void {
    for (let i = 0; i < deliveries.length; i++) {
      if (this.stopped) {
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

  /** Waits until the first queue in the current order has something (or the block timeout), then takes. */
  private waitAndTake(): Promise<TakeBatch> {
    const blocking = (this.blocking ??= this.openBlocking());
    if (this.blockingId === null && !this.learningId) {
      // Sent ahead of the wait, so the id is known while it blocks.
      this.learningId = true;
      blocking.client.client('ID').then(
        (id) => {
          this.learningId = false;
          this.blockingId = Number(id);
        },
        () => (this.learningId = false),
      );
    }
    return this.host.waitAndTake(this, blocking, this.mainLists[this.order[0] ?? 0]!, this.queues, this.order);
  }

  /**
   * Ends the wait in progress (CLIENT UNBLOCK from the command connection: the BLMOVE returns as
   * if timed out). Sent again while the late batch is not back: an
   * UNBLOCK that overtook its wait on the way to Redis found nothing to end. Without the
   * connection's id, or the permission, the wait runs out its timeout instead.
   */
  private unblock(): void {
    const send = () => {
      const up = this.blockingId !== null && this.blocking?.state === 'ready' && this.host.commandsReady();
      if (this.late.size === 0 || !up) return this.stopUnblocking();
      this.host.unblock(this.blockingId!).catch(() => this.stopUnblocking());
    };
    this.unblocking = setInterval(send, 100);
    // The late batch registers as cancel() interrupts it, just before this.
    send();
  }

  private stopUnblocking(): void {
    if (this.unblocking) clearInterval(this.unblocking);
    this.unblocking = null;
  }

  private openBlocking(): BrokerConnection {
    const blocking = this.host.blockingConnection();
    // A new connection has a new id: learnt again before the next wait.
    blocking.client.on('close', () => (this.blockingId = null));
    return blocking;
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

