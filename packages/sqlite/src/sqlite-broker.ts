/**
 * The embedded SQLite broker: celeriac's default. Several producer and worker processes on one
 * machine share one database file; queued messages survive restarts; a message taken by a worker
 * that dies is delivered again once its lease runs out.
 *
 * URL:  `sqlite://` (./celeriac.db), `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
 *       with query options `?visibility_timeout=60&poll_interval=50&busy_timeout=5000`.
 * Capabilities: native delay (countdown/ETA held in the database), priorities 0–9 served highest
 *       first, persistent, shared between processes; no fanout; dead letters kept in a table.
 * Options: see {@link SqliteOptions} — path, visibilityTimeout (s, default 60), pollInterval (ms,
 *       default 50), busyTimeout (ms, default 5000), logger.
 *
 * How it works: a delivery is a lease on a row (sqlite-schema.ts). Consumers take a batch up to
 * their free prefetch credit in one transaction; this broker renews its leases every quarter of
 * the visibility timeout while it lives, so only a dead process's messages come back. Acks,
 * rejects and publishes issued in one tick share one transaction (write-batcher.ts). Consumers poll
 * with backoff and are woken early by commits (change-signal.ts).
 *
 * A delivery is settled (acked, rejected or dead-lettered) only once its write commits: until then
 * its lease is renewed and its prefetch credit stays taken. A settle whose write fails rejects with
 * the error and leaves the delivery unsettled, so the caller may try again.
 */
import { randomUUID } from 'node:crypto';
import {
  ClosedError,
  ConfigError,
  Lifecycle,
  StateError,
  clampPriority,
  consoleLogger,
  type Broker,
  type BrokerCapabilities,
  type ConsumeOptions,
  type Consumer,
  type DeadLetterEntry,
  type DeadLetterReason,
  type Delivery,
  type ListDeadLettersOptions,
  type Logger,
  type OutgoingMessage,
  type PublishOptions,
  type RawMessage,
} from '@celeriac/core';
import { DeadLetterStore } from './dead-letter-store.js';
import { decodeRow, toColumns, type MessageRow } from './message-row.js';
import { MessageStore, type NewMessage } from './message-store.js';
import { SqliteConsumer, type ConsumerHost } from './sqlite-consumer.js';
import { resolveSqliteOptions, type ResolvedSqliteOptions, type SqliteOptions } from './sqlite-options.js';
import { SqliteStore } from './sqlite-store.js';

export type SqliteBrokerState = 'new' | 'open' | 'closed';

const TRANSITIONS: Readonly<Record<SqliteBrokerState, readonly SqliteBrokerState[]>> = {
  new: ['open', 'closed'],
  open: ['closed'],
  closed: [],
};

/** How a delivery was settled, in the words of the error a later deadLetter() throws. */
type Settlement = 'acknowledged' | 'rejected' | 'dead-lettered' | 'given back';

/**
 * Runs `op` on a delivery's row (plus `extra` when the lease was still ours) in the next batch.
 * Resolves with whether the lease was still ours; rejects, leaving the delivery unsettled, when
 * the write fails. Resolves false without writing after close() or once the delivery is settled,
 * except that a dead letter (`as: 'dead-lettered'`) of a settled delivery throws a StateError.
 */
type Settle = (
  as: Settlement,
  op: (messages: MessageStore, id: number, owner: string) => boolean,
  extra?: (conn: Connection) => void,
) => Promise<boolean>;

interface Connection {
  readonly store: SqliteStore;
  readonly messages: MessageStore;
  readonly deadLetters: DeadLetterStore;
}

export class SqliteBroker implements Broker {
  readonly capabilities: BrokerCapabilities = {
    nativeDelay: true,
    priority: true,
    priorityOrder: 'higher-first',
    fanout: false,
    nativeDeadLetter: false,
    persistent: true,
    shared: true,
  };
  readonly options: ResolvedSqliteOptions;
  readonly logger: Logger;
  /** Names this instance's leases in the database. */
  private readonly owner = randomUUID();
  private readonly lifecycle: Lifecycle<SqliteBrokerState>;
  private conn: Connection | null = null;
  private readonly consumers = new Set<SqliteConsumer>();
  /** Ids of the messages this instance holds a lease on, until they are settled. */
  private readonly held = new Set<number>();
  /** How to settle each delivery this instance made, for deadLetter() and giveBack(). */
  private readonly settlers = new WeakMap<Delivery, Settle>();
  private renewTimer: NodeJS.Timeout | null = null;
  /** What this instance's consumers may call; kept off the public surface. */
  private readonly host: ConsumerHost;

  constructor(options: SqliteOptions) {
    this.options = resolveSqliteOptions(options);
    this.logger = options.logger ?? consoleLogger('warn');
    this.lifecycle = new Lifecycle(`sqlite broker ${this.options.path}`, 'new', TRANSITIONS, this.logger);
    this.host = {
      pollIntervalMs: this.options.pollIntervalMs,
      logger: this.logger,
      take: (queues, limit, consumer) => this.take(queues, limit, consumer),
      listen: (listener) => this.open().store.signal.listen(listener),
      forget: (consumer) => this.consumers.delete(consumer),
      giveBack: (deliveries) => this.giveBack(deliveries),
    };
  }

  get state(): SqliteBrokerState {
    return this.lifecycle.state;
  }

  async connect(): Promise<void> {
    this.open();
  }

  async publish(message: RawMessage, options: PublishOptions): Promise<void> {
    const row = toNewMessage(message, options);
    const { store, messages } = this.open();
    await store.batcher.add(() => messages.insert(row, Date.now()));
  }

  async publishMany(batch: readonly OutgoingMessage[]): Promise<void> {
    const rows = batch.map((m) => toNewMessage(m.message, m.options));
    const { store, messages } = this.open();
    if (rows.length === 0) return;
    // One write in the batcher keeps these in order with single publishes made just before.
    await store.batcher.add(() => {
      const now = Date.now();
      for (const row of rows) messages.insert(row, now);
    });
  }

  async consume(queues: readonly string[], onDelivery: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Consumer> {
    if (queues.length === 0 || queues.some((q) => typeof q !== 'string' || q === '')) {
      throw new ConfigError(`consume() needs one or more non-empty queue names, got ${JSON.stringify(queues)}`);
    }
    this.open();
    const consumer = new SqliteConsumer(this.host, [...new Set(queues)], onDelivery, options.prefetch);
    this.consumers.add(consumer);
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    const { store, messages } = this.open();
    let purged = 0;
    // Through the batcher, so a purge lands after publishes issued before it.
    await store.batcher.add(() => {
      purged = messages.purge(queue);
    });
    return purged;
  }

  async size(queue: string): Promise<number> {
    return this.open().messages.size(queue);
  }

  async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
    const settle = this.settlers.get(delivery);
    if (!settle) throw new ConfigError('deadLetter() was given a delivery that did not come from this broker instance');
    const entry = {
      id: randomUUID(),
      queue: delivery.queue,
      priority: delivery.priority,
      reason: { code: reason.code, message: reason.message },
      at: Date.now(),
      message: delivery.message,
      raw: null,
    };
    // Recorded in the same transaction as the ack, and only if the lease was still ours (a lost
    // lease means another consumer has the message now).
    await settle('dead-lettered', (m, id, owner) => m.ack(id, owner), (conn) => conn.deadLetters.insert(entry));
  }

  async listDeadLetters(options: ListDeadLettersOptions = {}): Promise<DeadLetterEntry[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 0) throw new ConfigError(`listDeadLetters option "limit" must be a non-negative integer, got ${JSON.stringify(limit)}`);
    return this.open().deadLetters.list(options.queue, limit);
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    const { store, messages, deadLetters } = this.open();
    let replayed = false;
    await store.batcher.add(() => {
      const stored = deadLetters.get(id);
      if (!stored?.entry.message) return;
      messages.insert(toNewMessage(stored.entry.message, { queue: stored.entry.queue, priority: stored.priority }), Date.now());
      deadLetters.delete(id);
      replayed = true;
    });
    return replayed;
  }

  async deleteDeadLetter(id: string): Promise<boolean> {
    return this.open().deadLetters.delete(id);
  }

  async close(): Promise<void> {
    if (this.lifecycle.is('closed')) return;
    const conn = this.conn;
    this.lifecycle.set('closed');
    for (const consumer of [...this.consumers]) consumer.stop();
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    if (!conn) return;
    const { store, messages } = conn;
    try {
      store.batcher.flush();
      // What this instance was given and never settled goes back, marked redelivered.
      store.transaction(() => {
        for (const id of this.held) messages.release(id, this.owner);
      });
    } finally {
      this.held.clear();
      this.conn = null;
      store.close();
    }
  }

  /** Leases up to `limit` messages from `queues`, in that order, to `consumer` (see ConsumerHost). */
  private take(queues: readonly string[], limit: number, consumer: SqliteConsumer): Delivery[] {
    const { store, messages, deadLetters } = this.open();
    const now = Date.now();
    if (!messages.hasWork(queues, now)) return [];
    const taken: Array<{ row: MessageRow; message: RawMessage }> = [];
    let changedOthers = false;
    store.transaction(() => {
      changedOthers = messages.promoteDue(now) > 0;
      for (const queue of queues) {
        for (const row of messages.take(queue, limit - taken.length, this.owner, now + this.options.visibilityTimeoutMs)) {
          const decoded = decodeRow(row);
          if (decoded.ok) {
            taken.push({ row, message: decoded.message });
            continue;
          }
          // A row nobody can read is set aside with its raw text instead of failing every take.
          this.logger.warn('sqlite broker: dead-lettering a malformed message row', { queue, id: row.id, error: decoded.error });
          deadLetters.insert({
            id: randomUUID(),
            queue,
            priority: row.priority,
            reason: { code: 'bad-message:row-not-json', message: `message row ${row.id} could not be read: ${decoded.error}` },
            at: now,
            message: null,
            raw: decoded.raw,
          });
          messages.delete(row.id);
        }
        if (taken.length >= limit) break;
      }
    });
    if (changedOthers) store.signal.notify();
    if (taken.length > 0) this.startRenewing();
    // Only once the leases are committed does this instance start tracking them.
    return taken.map(({ row, message }) => this.deliver(row, message, consumer));
  }

  /**
   * Returns deliveries that were taken but never handed to the caller (the consumer was cancelled
   * part-way through a batch), without marking them redelivered.
   */
  private giveBack(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) {
      void this.settlers.get(delivery)?.('given back', (m, id, owner) => m.unlease(id, owner)).catch((err: unknown) => {
        this.logger.warn('sqlite broker: giving back an undelivered message failed; it returns when its lease runs out', { error: err });
      });
    }
  }

  private deliver(row: MessageRow, message: RawMessage, consumer: SqliteConsumer): Delivery {
    const { id, queue, priority } = row;
    this.held.add(id);
    /** Set once a settle's write committed; never unset. */
    let settled: Settlement | null = null;
    /** The settle whose write is on its way, if any; cleared when it ends either way. */
    let inFlight: Promise<boolean> | null = null;
    const write: Settle = async (as, op, extra) => {
      const conn = this.conn;
      // After close() the message already went back to its queue: nothing left to settle.
      if (!conn || !this.held.has(id)) return false;
      let applied = false;
      try {
        await conn.store.batcher.add(() => {
          // The batcher may run this twice (in the batch, then alone after the batch failed).
          applied = op(conn.messages, id, this.owner);
          if (applied) extra?.(conn);
          // Here rather than after the await: close() commits pending writes and then releases
          // what is still held, all before this function resumes.
          this.held.delete(id);
        });
      } catch (err) {
        if (as === 'given back') {
          // Nobody holds this delivery to try again: stop renewing, and the lease runs out.
          this.held.delete(id);
          settled = as;
          consumer.settled();
        } else if (this.conn === conn) {
          // Rolled back: the lease is still ours and the caller may settle again; keep renewing.
          this.held.add(id);
          this.startRenewing();
        }
        throw err;
      }
      settled = as;
      consumer.settled();
      if (!applied) this.logger.warn('sqlite broker: settled a message whose lease had run out; another consumer may have it', { queue, id });
      return applied;
    };
    const settle: Settle = async (as, op, extra) => {
      // One write at a time per delivery; a settle that comes while another is on its way waits
      // to see whether that one committed.
      while (inFlight) await inFlight.catch(() => undefined);
      if (settled !== null) {
        if (as === 'dead-lettered') {
          throw new StateError(`the message was already ${settled}; it can no longer be dead-lettered (queue "${queue}", delivery ${id})`);
        }
        return false;
      }
      const attempt: Promise<boolean> = write(as, op, extra).finally(() => {
        if (inFlight === attempt) inFlight = null;
      });
      inFlight = attempt;
      return attempt;
    };
    const delivery: Delivery = {
      message,
      queue,
      deliveryTag: String(id),
      redelivered: row.redelivered !== 0,
      priority,
      ack: async () => {
        await settle('acknowledged', (m) => m.ack(id, this.owner));
      },
      reject: async (requeue: boolean) => {
        await settle('rejected', (m) => (requeue ? m.release(id, this.owner) : m.ack(id, this.owner)));
      },
    };
    this.settlers.set(delivery, settle);
    return delivery;
  }

  /** Renews this instance's leases every quarter of the visibility timeout while it holds any. */
  private startRenewing(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => this.renew(), Math.max(1, Math.floor(this.options.visibilityTimeoutMs / 4)));
    this.renewTimer.unref();
  }

  private renew(): void {
    if (!this.conn) return;
    const { store, messages } = this.conn;
    if (this.held.size === 0) {
      if (this.renewTimer) clearInterval(this.renewTimer);
      this.renewTimer = null;
      return;
    }
    const until = Date.now() + this.options.visibilityTimeoutMs;
    const lost: number[] = [];
    try {
      store.transaction(() => {
        for (const id of this.held) if (!messages.renew(id, this.owner, until)) lost.push(id);
      });
    } catch (err) {
      this.logger.warn('sqlite broker: renewing leases failed; retrying', { error: err });
      return;
    }
    if (lost.length) this.logger.warn('sqlite broker: leases ran out before renewal (event loop blocked longer than the visibility timeout?)', { ids: lost });
  }

  private open(): Connection {
    if (this.lifecycle.is('closed')) throw new ClosedError(`the SQLite broker on ${this.options.path}`);
    if (!this.conn) {
      const store = SqliteStore.open(this.options);
      this.conn = { store, messages: new MessageStore(store.db), deadLetters: new DeadLetterStore(store.db) };
      this.lifecycle.set('open');
    }
    return this.conn;
  }
}

function toNewMessage(message: RawMessage, options: PublishOptions): NewMessage {
  if (typeof options.queue !== 'string' || options.queue === '') {
    throw new ConfigError(`publish option "queue" must be a non-empty string, got ${JSON.stringify(options.queue)}`);
  }
  if (typeof message.body !== 'string') throw new ConfigError(`a message body must be a string, got ${typeof message.body}`);
  const notBefore = options.notBefore ? options.notBefore.getTime() : null;
  if (notBefore !== null && Number.isNaN(notBefore)) throw new ConfigError('publish option "notBefore" is an invalid Date');
  return { ...toColumns(message), queue: options.queue, priority: clampPriority(options.priority), notBefore };
}
