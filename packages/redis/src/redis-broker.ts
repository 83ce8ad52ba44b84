/**
 * The Redis broker, wire-compatible with Celery 5.2 / kombu's Redis transport: Python clients and
 * workers share its queues (shared/celery-wire-protocol.md §2).
 *
 * URL:  `redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS, with query options
 *       `visibility_timeout` (s) and `key_prefix` (+ the TLS ones, see redis-url.ts).
 * Capabilities: priorities 0–9 in kombu's four lists, LOWER number served first (as Celery on
 *       Redis); shared between processes; persistent as far as the server persists (AOF/RDB);
 *       dead letters in celeriac's own keys; fanout over Pub/Sub as kombu (`publishFanout`,
 *       `subscribeFanout`: not yet part of core's Broker contract); no native delay (the worker
 *       holds ETA tasks, as Celery's does).
 * Options: see {@link RedisBrokerOptions}: url, keyPrefix, visibilityTimeout (s, default 3600),
 *       blockTimeoutMs (200), connectionTimeoutMs (10000), logger.
 *
 * Layout and semantics are kombu's: LPUSH to publish, right-pop to consume (FIFO), `SADD
 * _kombu.binding.<q>` on declare, the JSON envelope of kombu-envelope.ts, `unacked` /
 * `unacked_index` for ack emulation, restore after the visibility timeout under `unacked_mutex`.
 * Where celeriac is stricter than kombu:
 * - taking a message and recording it in `unacked` is one script (broker-scripts.ts TAKE), batched
 *   up to the free prefetch credit; kombu's BRPOP + HSET loses a message taken as Redis stops; an
 *   idle consumer's wait moves the message into a landing list of its own instead (BLMOVE, just
 *   as atomic), from which it is acknowledged or recorded in `unacked` within its first turn, and
 *   which a sweep gives back if the consumer dies first (landing.ts);
 * - this instance renews the `unacked_index` score of what it holds, and sweeps for expired
 *   messages every quarter of the visibility timeout (between 250 ms and 60 s) while it has
 *   consumers, where kombu sweeps about every 100 s (unacked-upkeep.ts);
 * - an element that is not a usable envelope is dead-lettered with its reason, not lost;
 * - on close, unsettled messages go straight back (as a Celery worker does on shutdown).
 * Connections: one for commands and one per consumer for blocking waits (redis-consumer.ts);
 * ioredis reconnects them (broker-connection.ts). Round trips are saved by design rather than by
 * ioredis's auto-pipelining (which only added a deferral and a pipeline object per command here):
 * the acks of one event-loop turn share one script call, and ride on the next take when one is
 * due (held-deliveries.ts); an idle consumer's early acks ride its next wait.
 */
import { randomUUID } from 'node:crypto';
import {
  ClosedError,
  ConfigError,
  checkPrefetch,
  Lifecycle,
  StateError,
  type AdapterContext,
  type Broker,
  type BrokerCapabilities,
  type ConsumeOptions,
  type Consumer,
  type DeadLetterEntry,
  type DeadLetterReason,
  type Delivery,
  type ListDeadLettersOptions,
  type OutgoingMessage,
  type PublishOptions,
  type RawMessage,
} from '@celeriac/core';
import type { Redis } from 'ioredis';
import { BrokerConnection } from './broker-connection.js';
import { HeldDeliveries, type Held } from './held-deliveries.js';
import { encodeEnvelope, publishPriority } from './kombu-envelope.js';
import { bindingMember, KombuKeys } from './kombu-keys.js';
import { classifyRedisError, RedisUnavailableError } from './redis-errors.js';
import { resolveBrokerOptions, type RedisBrokerOptions, type ResolvedBrokerOptions } from './redis-broker-options.js';
import { RedisConsumer, untilAborted, type ConsumerHost } from './redis-consumer.js';
import { RedisDeadLetters } from './redis-dead-letters.js';
import { RedisFanout, type FanoutMessage, type FanoutSubscription, type SubscribeOptions } from './redis-fanout.js';
import { ORPHAN_WAIT_MARGIN_MS } from './landing.js';
import { laneFor } from './shared-lane.js';
import { TakenMessages } from './taken-messages.js';
import { UnackedUpkeep } from './unacked-upkeep.js';

type BrokerState = 'new' | 'open' | 'closing' | 'closed';

const TRANSITIONS: Readonly<Record<BrokerState, readonly BrokerState[]>> = {
  new: ['open', 'closing'],
  open: ['closing'],
  closing: ['closed'],
  closed: [],
};

/** Most values in one LPUSH. */
const PUSH_CHUNK = 1000;

export class RedisBroker implements Broker {
  readonly capabilities: BrokerCapabilities = {
    nativeDelay: false,
    priority: true,
    priorityOrder: 'lower-first',
    fanout: true,
    nativeDeadLetter: false,
    persistent: true,
    shared: true,
  };
  readonly options: ResolvedBrokerOptions;
  readonly keys: KombuKeys;
  private readonly lifecycle: Lifecycle<BrokerState>;
  private readonly conn: BrokerConnection;
  private readonly held: HeldDeliveries;
  private readonly deadLetters: RedisDeadLetters;
  private readonly fanout: RedisFanout;
  private readonly consumers = new Set<RedisConsumer>();
  private readonly blocking = new Set<BrokerConnection>();
  /** Queues whose `_kombu.binding` member this instance has written. */
  private readonly declared = new Set<string>();
  private readonly taken: TakenMessages;
  private readonly host: ConsumerHost;
  private readonly upkeep: UnackedUpkeep;
  private closing: Promise<void> | null = null;

  constructor(options: RedisBrokerOptions = {}) {
    this.options = resolveBrokerOptions(options);
    this.keys = new KombuKeys(this.options.keyPrefix, this.options.connection.db);
    this.lifecycle = new Lifecycle(`redis broker ${this.options.server}`, 'new', TRANSITIONS, this.options.logger);
    this.conn = new BrokerConnection(this.options, 'commands');
    this.held = new HeldDeliveries(this.conn, this.keys, this.options.logger, () => this.lifecycle.is('closed'));
    this.upkeep = new UnackedUpkeep({
      held: this.held,
      client: () => this.conn.client,
      keys: this.keys,
      visibilityTimeoutS: this.options.visibilityTimeoutS,
      logger: this.options.logger,
      stopped: () => !this.lifecycle.is('open'),
    });
    this.taken = new TakenMessages(this.held, this.keys, this.options.logger, laneFor(this.options.connection), this.options.visibilityTimeoutS, this.options.blockTimeoutMs);
    this.deadLetters = new RedisDeadLetters((what) => this.ready(what), this.keys);
    this.fanout = new RedisFanout(this.keys, this.options.logger, () => this.open(), () => {
      const conn = new BrokerConnection(this.options, 'pubsub');
      conn.open();
      return conn;
    });
    this.host = {
      blockTimeoutMs: this.options.blockTimeoutMs,
      logger: this.options.logger,
      take: async (consumer, queues, order, now) => {
        // Not awaited once done: a take asked for now must be written before this turn goes on.
        if (!this.upkeep.firstDone) await this.upkeep.first;
        return this.taken.take(this.open().client, consumer, queues, order, now);
      },
      waitAndTake: async (consumer, blocking, list, queues, order) => {
        if (!this.upkeep.firstDone) await this.upkeep.first;
        const wait = { blocking: blocking.client, drops: () => blocking.drops, commands: this.open().client, list, timeoutS: this.options.blockTimeoutMs / 1000 };
        return this.taken.waitAndTake(wait, consumer, queues, order);
      },
      unblock: async (clientId) => {
        await this.conn.client.client('UNBLOCK', clientId);
      },
      mainList: (queue) => this.keys.list(queue, 0),
      blockingConnection: () => this.newBlockingConnection(),
      commandReady: (signal) => this.commandReady(signal),
      commandsReady: () => this.conn.state === 'ready',
      giveBack: (deliveries) => this.taken.giveBack(deliveries),
      forget: (consumer) => this.forget(consumer),
      release: async (consumer) => {
        if (this.conn.state !== 'ready') return;
        // Bounded, so a cancel (and close) does not wait for Redis to come back: what is left, the
        // sweep gives back once the consumer's key expires.
        const releasing = this.taken.release(this.conn.client, consumer);
        releasing.catch(() => undefined); // awaited below, unless the time runs out first
        const waitMs = this.options.blockTimeoutMs + ORPHAN_WAIT_MARGIN_MS + this.options.connectionTimeoutMs;
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), waitMs)));
        try {
          if ((await Promise.race([releasing, expired])) === 'expired') throw new Error(`Redis did not answer within ${waitMs} ms`);
        } finally {
          clearTimeout(timer);
        }
      },
    };
  }

  async connect(): Promise<void> {
    await this.open().waitReady('connect', this.options.connectionTimeoutMs);
  }

  publish(message: RawMessage, options: PublishOptions): Promise<void> {
    let item: PushItem;
    let conn: BrokerConnection;
    try {
      item = this.pushItem(message, options);
      conn = this.open();
    } catch (err) {
      return Promise.reject(err);
    }
    // One message to a queue already declared (a client sending a task and awaiting it): one
    // LPUSH of its own, without a pipeline object around it.
    if (this.declared.has(item.queue) && conn.state === 'ready') return this.pushOne(conn, item);
    return this.pushMany(conn, [item]);
  }

  async publishMany(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 1) return this.publish(messages[0]!.message, messages[0]!.options);
    const items = messages.map((m) => this.pushItem(m.message, m.options));
    const conn = this.open();
    if (items.length > 0) await this.pushMany(conn, items);
  }

  /** Declares the queues not declared yet and pushes, in one pipeline once the connection is up. */
  private async pushMany(conn: BrokerConnection, items: readonly PushItem[]): Promise<void> {
    const queues = [...new Set(items.map((i) => i.queue))];
    const what = queues.length === 1 ? `publish to queue "${queues[0]}"` : `publish to ${queues.length} queues`;
    // Not handed to ioredis before the connection is up, so a publish that times out was not sent.
    await conn.waitReady(what, this.options.connectionTimeoutMs, items.length === 1 ? 'the message was not published' : 'none of the messages was published');
    const pipeline = conn.client.pipeline();
    const undeclared = queues.filter((q) => !this.declared.has(q));
    for (const q of undeclared) pipeline.sadd(this.keys.binding(q), bindingMember(q, '', q));
    // Runs of messages for the same list share one LPUSH (which pushes them in order: FIFO kept).
    for (let i = 0; i < items.length; ) {
      let j = i + 1;
      while (j < items.length && j - i < PUSH_CHUNK && items[j]!.key === items[i]!.key) j++;
      pipeline.lpush(items[i]!.key, ...items.slice(i, j).map((item) => item.envelope));
      i = j;
    }
    let failed: Error | null | undefined;
    try {
      failed = (await pipeline.exec())?.find(([err]) => err)?.[0];
    } catch (err) {
      failed = err as Error;
    }
    if (failed) throw this.publishError(what, failed);
    for (const q of undeclared) this.declared.add(q);
  }

  /** A message as the envelope to push and the list it goes to. */
  private pushItem(message: RawMessage, options: PublishOptions): PushItem {
    checkQueue(options.queue, 'publish option "queue"');
    const priority = publishPriority(message, options.priority);
    const envelope = encodeEnvelope(message, { queue: options.queue, priority, deliveryTag: randomUUID() });
    return { queue: options.queue, key: this.keys.list(options.queue, priority), envelope };
  }

  /** One message, on a ready connection, to a declared queue: LPUSH alone (see publish). */
  private pushOne(conn: BrokerConnection, item: PushItem): Promise<void> {
    return conn.client.lpush(item.key, item.envelope).then(noop, (err: unknown) => {
      throw this.publishError(`publish to queue "${item.queue}"`, err);
    });
  }

  /** What a publish that failed once handed to ioredis throws: a dropped connection leaves it unknown whether it went out. */
  private publishError(what: string, err: unknown): unknown {
    if (classifyRedisError(err) !== 'reconnect') return err;
    return new RedisUnavailableError(what, this.options.server, 'the connection dropped during the publish: it may or may not have been published', { cause: err });
  }

  async consume(queues: readonly string[], onDelivery: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Consumer> {
    if (!Array.isArray(queues) || queues.length === 0) {
      throw new ConfigError(`consume() needs one or more non-empty queue names, got ${JSON.stringify(queues)}`);
    }
    for (const q of queues) checkQueue(q, 'consume() queue name');
    checkPrefetch(options.prefetch);
    const conn = this.open();
    const unique = [...new Set(queues)];
    this.upkeep.start();
    // Declared as Celery does; only tools read these bindings, so consuming does not wait for it.
    for (const q of unique) conn.client.sadd(this.keys.binding(q), bindingMember(q, '', q)).catch(() => undefined);
    const consumer = new RedisConsumer(this.host, unique, onDelivery, options.prefetch);
    this.consumers.add(consumer);
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    checkQueue(queue, 'purge() queue name');
    const tx = (await this.ready(`purge queue "${queue}"`)).multi();
    for (const list of this.keys.lists(queue)) tx.llen(list).del(list);
    const replies = await tx.exec();
    const failed = replies?.find(([err]) => err)?.[0];
    if (failed) throw failed;
    return (replies ?? []).reduce((sum, [, n], i) => sum + (i % 2 === 0 ? Number(n) : 0), 0);
  }

  async size(queue: string): Promise<number> {
    checkQueue(queue, 'size() queue name');
    const pipeline = (await this.ready(`size of queue "${queue}"`)).pipeline();
    for (const list of this.keys.lists(queue)) pipeline.llen(list);
    const replies = await pipeline.exec();
    const failed = replies?.find(([err]) => err)?.[0];
    if (failed) throw failed;
    return (replies ?? []).reduce((sum, [, n]) => sum + Number(n), 0);
  }

  async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
    const settler = this.taken.settlerOf(delivery);
    if (!settler) throw new ConfigError('deadLetter() was given a delivery that did not come from this broker instance');
    if (settler.held.settling) {
      throw new StateError(`the message was already settled (acknowledged, rejected or dead-lettered); it can no longer be dead-lettered (queue "${delivery.queue}", delivery ${delivery.deliveryTag})`);
    }
    await settler.settle(() => this.held.deadLetter(settler.held, randomUUID(), reason.code, reason.message));
  }

  listDeadLetters(options?: ListDeadLettersOptions): Promise<DeadLetterEntry[]> {
    return this.deadLetters.list(options);
  }

  replayDeadLetter(id: string): Promise<boolean> {
    return this.deadLetters.replay(id);
  }

  deleteDeadLetter(id: string): Promise<boolean> {
    return this.deadLetters.delete(id);
  }

  /**
   * Publishes on a fanout exchange as kombu does (PUBLISH on `/<db>.<exchange>/<routingKey>`);
   * resolves with the number of subscribers that received it. Not (yet) in core's contract.
   */
  publishFanout(exchange: string, routingKey: string, message: RawMessage): Promise<number> {
    checkQueue(exchange, 'publishFanout() exchange');
    return this.fanout.publish(exchange, routingKey, message, this.options.connectionTimeoutMs);
  }

  /** Receives what is published on a fanout exchange from now on (see redis-fanout.ts). */
  subscribeFanout(options: SubscribeOptions, onMessage: (message: FanoutMessage) => void): Promise<FanoutSubscription> {
    checkQueue(options.exchange, 'subscribeFanout() option "exchange"');
    checkQueue(options.queue, 'subscribeFanout() option "queue"');
    this.open();
    return this.fanout.subscribe(options, onMessage);
  }

  async close(): Promise<void> {
    this.closing ??= this.shutDown();
    await this.closing;
  }

  private async shutDown(): Promise<void> {
    const wasOpen = this.lifecycle.is('open');
    this.lifecycle.set('closing');
    await Promise.all([...this.consumers].map((c) => c.cancel()));
    this.upkeep.stop();
    if (wasOpen) {
      // Acks already issued land first; what was delivered and never settled goes straight back.
      const unsettled = (): Held[] => this.held.forgetAll().filter((h) => !h.settling);
      const done = await withTimeout(
        (async () => {
          await this.held.drain();
          const back = unsettled();
          if (back.length) {
            await this.held.giveBack(back, true);
            this.options.logger.info(`redis broker: gave back ${back.length} unacknowledged message(s) on close`);
          }
        })(),
        this.options.connectionTimeoutMs,
      );
      if (!done) {
        this.options.logger.warn(`redis broker: Redis did not answer while closing; unsettled messages stay in unacked and are delivered again after the visibility timeout (${this.options.visibilityTimeoutS} s)`);
      }
    }
    this.held.forgetAll();
    this.lifecycle.set('closed');
    await Promise.all([this.fanout.close(), this.conn.close(), ...[...this.blocking].map((c) => c.close())]);
  }

  /**
   * The command client once connected, for operations a caller waits on (size, purge, dead
   * letters): they fail with RedisUnavailableError after `connectionTimeoutMs` rather than wait
   * for Redis indefinitely.
   */
  private async ready(what: string): Promise<Redis> {
    const conn = this.open();
    await conn.waitReady(what, this.options.connectionTimeoutMs);
    return conn.client;
  }

  /** The command connection, opened on first use; throws once the broker is closing. */
  private open(): BrokerConnection {
    if (this.lifecycle.state === 'open') return this.conn; // every publish asks: the short way first
    if (this.lifecycle.is('closing', 'closed')) throw new ClosedError(`the Redis broker on ${this.options.displayUrl}`);
    if (this.lifecycle.is('new')) {
      this.lifecycle.set('open');
      this.conn.open();
    }
    return this.conn;
  }

  private newBlockingConnection(): BrokerConnection {
    for (const c of this.blocking) if (c.state === 'closed') this.blocking.delete(c);
    const conn = new BrokerConnection(this.options, 'wait');
    conn.open();
    this.blocking.add(conn);
    return conn;
  }

  private async commandReady(signal: AbortSignal): Promise<void> {
    if (this.lifecycle.is('closing', 'closed')) return;
    await untilAborted(this.conn.waitReady('consume').catch(() => undefined), signal);
  }

  private forget(consumer: RedisConsumer): void {
    this.consumers.delete(consumer);
  }
}

interface PushItem {
  readonly queue: string;
  /** The list it goes to (its priority step's). */
  readonly key: string;
  readonly envelope: string;
}

function noop(): void {}

function checkQueue(queue: unknown, what: string): asserts queue is string {
  if (typeof queue !== 'string' || queue === '') throw new ConfigError(`${what} must be a non-empty string, got ${JSON.stringify(queue)}`);
}

/** True if `promise` settled within `ms`; its rejection is swallowed (the caller logs). */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => false), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The broker for a `redis://` or `rediss://` URL; what core's adapter loader calls. Connects on first use. */
export function createBroker(url: string, context?: AdapterContext): RedisBroker {
  return new RedisBroker({ url, ...(context ? { logger: context.logger } : {}) });
}
