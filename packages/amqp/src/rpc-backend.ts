/**
 * The `rpc://` result backend, as Celery 5.2's (celery/backends/rpc.py): results travel as AMQP
 * messages to the queue named by the task's `reply_to` (the sending app's id), with
 * `correlation_id` = the task id, over the app's own broker connection, so `rpc://` needs an
 * `amqp://` broker. Nothing is stored: a result reaches only the client that sent the task.
 *
 * - Worker side, `set()`: publishes `{task_id, status, result, traceback, children}` (exactly
 *   Celery's body) to the default exchange with routing key `reply_to`, non-persistent, JSON; a
 *   message without `reply_to` gets nothing published (as in Celery), and a result for a reply
 *   queue that no longer exists is dropped by RabbitMQ.
 * - Client side: the reply queue `<app id>` is declared as Celery declares it (not durable,
 *   auto-delete, `x-expires` = one day) and consumed without acks, when the backend connects and
 *   again after each reconnect (the auto-delete queue goes with its last consumer). `get()` answers
 *   from the states this process received, `watch()` wakes as they arrive. A state never replaces
 *   a SUCCESS already received (Celery's guard, applied where the result lands).
 * - Received states are kept for the result lifetime (`expiresIn` of the set, sent as the
 *   message's `x-celeriac-expires` header; one day without one), at most `MAX_KEPT` of them.
 * - A result this process sends to its own reply queue (client and worker in one process) is
 *   awaited until it has arrived, so that `get()` right after `set()` sees it.
 * - Chords are refused with Celery's own message (`chords`): a chord needs a store every header
 *   task can count in, which a per-client queue is not.
 */
import { ConfigError, consoleLogger, States, type AdapterContext, type BackendCapabilities, type Logger, type ResultBackend, type ResultMeta, type ResultWatch, type SetResultOptions } from '@celeriac/core';
import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { AmqpBroker } from './amqp-broker.js';
import { beforeDeadline, type Outgoing } from './amqp-publisher.js';

/** Celery's text (celery/backends/rpc.py E_NO_CHORD_SUPPORT). */
export const RPC_NO_CHORDS = `The "rpc" result backend does not support chords!

Note that a group chained with a task is also upgraded to be a chord,
as this pattern requires synchronization.

Result backends that supports chords: Redis, Database, Memcached, and more.`;

/** The error chords on an rpc backend meet (Celery raises NotImplementedError with the same text). */
export class RpcChordsNotSupportedError extends ConfigError {
  constructor() {
    super(RPC_NO_CHORDS);
    this.name = 'NotImplementedError';
  }
}

const DAY_MS = 86_400_000;
const MAX_KEPT = 100_000;
const EXPIRES_HEADER = 'x-celeriac-expires';
const RESOLVED = Promise.resolve();

interface Kept {
  readonly meta: ResultMeta;
  readonly until: number;
}

export class RpcBackend implements ResultBackend {
  readonly capabilities: BackendCapabilities = { persistent: false, shared: false };
  private readonly states = new Map<string, Kept>();
  private readonly watchers = new Map<string, Set<(meta?: ResultMeta) => void>>();
  private channel: Channel | null = null;
  private consuming: Promise<void> | null = null;
  private consumingGeneration = 0;
  private stopListening: (() => void) | null = null;
  private closed = false;
  /** Results waiting for the end of the turn to be published together (see send()). */
  private outgoing: { readonly messages: Outgoing[]; readonly done: Promise<void> } | null = null;
  /** Results sent to our own queue, by message id: resolved when they arrive. */
  private readonly ownSends = new Map<string, () => void>();

  constructor(
    private readonly broker: AmqpBroker,
    /** This client's reply queue: the `reply_to` of the messages it sends. */
    readonly replyTo: string,
    private readonly logger: Logger = consoleLogger('warn'),
  ) {}

  /** Chord counting: refused, with Celery's message. */
  get chords(): never {
    throw new RpcChordsNotSupportedError();
  }

  /** Declares and consumes the reply queue (again after each reconnect). */
  async connect(): Promise<void> {
    if (this.closed) throw new ConfigError('the rpc result backend is closed');
    const { connection } = this.broker.transport();
    this.stopListening ??= connection.onOpen((_model, generation) => {
      if (!this.closed) this.consumeOn(generation).catch((err: unknown) => this.logger.warn('rpc backend: consuming the reply queue again failed', { error: err }));
    });
    const model = await connection.ready(`consume the reply queue ${this.replyTo}`);
    await this.consumeOn(connection.generation, model);
  }

  /**
   * Declares and consumes the reply queue once per connection generation (connect() and the
   * reconnect listener may both ask for the same one); a failed attempt may be made again.
   */
  private consumeOn(generation: number, model?: ChannelModel): Promise<void> {
    if (this.consuming && this.consumingGeneration === generation) return this.consuming;
    this.consumingGeneration = generation;
    const consuming = this.consume(model).catch((err: unknown) => {
      if (this.consuming === consuming) this.consuming = null;
      throw err;
    });
    this.consuming = consuming;
    return consuming;
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    return this.kept(taskId, Date.now());
  }

  /** One promise for all of them (not one per id: a waiter reads thousands per second). */
  async getMany(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    const now = Date.now();
    return taskIds.map((id) => this.kept(id, now));
  }

  /** The state received for a task and still kept at `now`, or null. */
  private kept(taskId: string, now: number): ResultMeta | null {
    const kept = this.states.get(taskId);
    if (!kept) return null;
    if (kept.until <= now) {
      this.states.delete(taskId);
      return null;
    }
    return kept.meta;
  }

  set(taskId: string, meta: ResultMeta, options: SetResultOptions = {}): Promise<void> {
    const replyTo = options.replyTo;
    if (typeof replyTo !== 'string' || replyTo === '') return RESOLVED;
    let message: Outgoing;
    try {
      const body = JSON.stringify({ task_id: taskId, status: meta.status, result: meta.result, traceback: meta.traceback, children: meta.children ?? [] });
      const publish: Options.Publish = { correlationId: options.correlationId ?? taskId, contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, priority: 0 };
      const expiresIn = options.expiresIn;
      // Only when it is not the default a receiver assumes (one day): most results carry no header.
      if (typeof expiresIn === 'number' && expiresIn > 0 && Math.ceil(expiresIn * 1000) !== DAY_MS) publish.headers = { [EXPIRES_HEADER]: Math.ceil(expiresIn * 1000) };
      message = { exchange: '', routingKey: replyTo, content: Buffer.from(body, 'utf8'), options: publish, declare: '' };
    } catch (err) {
      return Promise.reject(err);
    }
    // A result to our own queue is awaited until it arrived (see the header); any other is done
    // once published, with no promise of its own (this runs for every task a worker finishes).
    if (replyTo === this.replyTo && this.channel !== null) return this.sendOwn(message);
    return this.send(message);
  }

  private async sendOwn(message: Outgoing): Promise<void> {
    const { connection } = this.broker.transport();
    const messageId = randomUUID();
    (message.options as Options.Publish).messageId = messageId;
    const arrived = new Promise<void>((resolve) => this.ownSends.set(messageId, resolve));
    try {
      await this.send(message);
      await beforeDeadline(arrived, Date.now() + connection.url.connectionTimeoutMs);
    } finally {
      this.ownSends.delete(messageId);
    }
  }

  /**
   * Publishes a result with the others of this event-loop turn, in one confirmed publish: amqplib
   * then writes them in one go rather than one socket write each. They share one promise.
   */
  private send(message: Outgoing): Promise<void> {
    let batch = this.outgoing;
    if (batch) {
      batch.messages.push(message);
      return batch.done;
    }
    let settle!: { resolve(): void; reject(err: unknown): void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    batch = this.outgoing = { messages: [message], done };
    const messages = batch.messages;
    setImmediate(() => {
      this.outgoing = null;
      const what = messages.length === 1 ? `send the result of ${String(message.options.correlationId)} to ${message.routingKey}` : `send ${messages.length} results`;
      let publishing: Promise<void>;
      try {
        publishing = this.broker.transport().publisher.publish(messages, what);
      } catch (err) {
        // The broker closed meanwhile.
        publishing = Promise.reject(err);
      }
      publishing.then(settle.resolve, settle.reject);
    });
    return done;
  }

  async delete(taskId: string): Promise<void> {
    this.states.delete(taskId);
  }

  watch(taskId: string): ResultWatch {
    let wake: (meta?: ResultMeta) => void = () => {};
    const woken = new Promise<ResultMeta | void>((resolve) => {
      if (this.closed) return resolve();
      let set = this.watchers.get(taskId);
      if (!set) this.watchers.set(taskId, (set = new Set()));
      const listeners = set;
      wake = (meta?: ResultMeta) => {
        if (!listeners.delete(wake)) return;
        if (listeners.size === 0 && this.watchers.get(taskId) === listeners) this.watchers.delete(taskId);
        resolve(meta);
      };
      listeners.add(wake);
    });
    return { woken, stop: () => wake() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopListening?.();
    for (const set of [...this.watchers.values()]) for (const wake of [...set]) wake();
    const channel = this.channel;
    this.channel = null;
    await channel?.close().catch(() => undefined);
  }

  private async consume(given?: ChannelModel): Promise<void> {
    const { connection } = this.broker.transport();
    const model = given ?? (await connection.ready(`consume the reply queue ${this.replyTo}`));
    const generation = connection.generation;
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => this.logger.warn('rpc backend: reply channel error', { error: err.message }));
    channel.on('close', () => this.onChannelClosed(channel, generation));
    await channel.assertQueue(this.replyTo, { durable: false, exclusive: false, autoDelete: true, arguments: { 'x-expires': { '!': 'int32', value: DAY_MS } } });
    await channel.consume(
      this.replyTo,
      (msg) => {
        if (msg) return this.receive(msg);
        // The server cancelled the consumer (the queue was deleted): a new channel declares it again.
        this.logger.warn(`rpc backend: the server cancelled consuming the reply queue ${this.replyTo}; consuming again`);
        channel.close().catch(() => undefined);
      },
      { noAck: true },
    );
    this.channel = channel;
  }

  /**
   * The reply channel closed: with its connection (the next connection consumes again), or alone
   * (a channel error, the queue deleted): then again on this connection, after a pause.
   */
  private onChannelClosed(channel: Channel, generation: number): void {
    if (this.channel === channel) this.channel = null;
    if (this.closed) return;
    setTimeout(() => {
      if (this.closed || this.channel) return;
      try {
        const { connection } = this.broker.transport();
        if (!connection.isOpen || connection.generation !== generation) return;
        this.consuming = null;
        this.consumeOn(generation).catch((err: unknown) => this.logger.warn('rpc backend: consuming the reply queue again failed', { error: err }));
      } catch {
        // The broker closed meanwhile: nothing to consume for.
      }
    }, 1000).unref();
  }

  private receive(msg: ConsumeMessage): void {
    try {
      this.store(msg);
    } finally {
      const messageId = msg.properties.messageId;
      if (typeof messageId === 'string') this.ownSends.get(messageId)?.();
    }
  }

  private store(msg: ConsumeMessage): void {
    let body: Partial<ResultMeta> & { task_id?: unknown };
    try {
      body = JSON.parse(msg.content.toString('utf8')) as typeof body;
    } catch (err) {
      this.logger.warn('rpc backend: a reply that is not JSON was dropped', { correlationId: msg.properties.correlationId, error: (err as Error).message });
      return;
    }
    const taskId = typeof body.task_id === 'string' ? body.task_id : typeof msg.properties.correlationId === 'string' ? msg.properties.correlationId : null;
    if (!taskId || typeof body.status !== 'string') {
      this.logger.warn('rpc backend: a reply without task_id or status was dropped', { correlationId: msg.properties.correlationId });
      return;
    }
    const known = this.states.get(taskId);
    if (known?.meta.status === States.SUCCESS && known.until > Date.now()) return;
    const meta: ResultMeta = {
      status: body.status,
      result: body.result ?? null,
      traceback: typeof body.traceback === 'string' ? body.traceback : null,
      children: Array.isArray(body.children) ? body.children : [],
      date_done: null,
      task_id: taskId,
    };
    const ttl = Number((msg.properties.headers ?? {})[EXPIRES_HEADER]);
    this.states.delete(taskId);
    this.states.set(taskId, { meta, until: Date.now() + (Number.isFinite(ttl) && ttl > 0 ? ttl : DAY_MS) });
    if (this.states.size > MAX_KEPT) this.states.delete(this.states.keys().next().value!);
    const set = this.watchers.get(taskId);
    if (set) for (const wake of [...set]) wake(meta);
  }
}

/** Core's adapter loader calls this for `rpc://` URLs: the app's broker must be an AmqpBroker. */
export function createBackend(url: string, context?: AdapterContext): RpcBackend {
  if (!/^rpc:\/\/\/?$/i.test(url.trim())) throw new ConfigError(`an rpc result backend URL is just rpc:// (it uses the broker's connection), got ${JSON.stringify(url)}`);
  const broker = context?.broker;
  if (!(broker instanceof AmqpBroker)) {
    throw new ConfigError(`the rpc:// result backend sends results over the broker's connection: it needs an amqp:// broker${broker ? '' : ' (none was given)'}`);
  }
  if (!context?.replyTo) throw new ConfigError('the rpc:// result backend needs the app\'s reply id (AdapterContext.replyTo)');
  return new RpcBackend(broker, context.replyTo, context.logger);
}
