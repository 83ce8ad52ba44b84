/**
 * The RabbitMQ broker (AMQP 0-9-1, amqplib), wire-compatible with Celery 5.2 on py-amqp: Python
 * workers and clients share its queues. URL and options: amqp-url.ts. Declarations:
 * amqp-topology.ts. Message mapping: amqp-message.ts. Publishing (persistent, confirmed):
 * amqp-publisher.ts. Consuming (qos prefetch, acks): amqp-consumer.ts. Dead letters:
 * amqp-dead-letters.ts. Connection recovery: amqp-connection.ts.
 *
 * Capabilities: priorities when the URL sets `max_priority` (queues declared with
 * `x-max-priority`; higher first, as RabbitMQ serves them); no native delay (countdown/ETA tasks
 * are held by the worker, as Celery's are); persistent; shared.
 */
import {
  checkPrefetch,
  consoleLogger,
  StateError,
  type AdapterContext,
  type Broker,
  type BrokerCapabilities,
  type Consumer,
  type ConsumeOptions,
  type DeadLetterEntry,
  type DeadLetterReason,
  type Delivery,
  type ListDeadLettersOptions,
  type Logger,
  type OutgoingMessage,
  type PublishOptions,
  type RawMessage,
} from '@celeriac/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import { AmqpConnection } from './amqp-connection.js';
import { AmqpConsumer, type Settle } from './amqp-consumer.js';
import { deadLetterCopy, listDeadLetters, scanDeadLetters } from './amqp-dead-letters.js';
import { fromAmqp, publishOptions } from './amqp-message.js';
import { AmqpPublisher, type Outgoing } from './amqp-publisher.js';
import { DEFAULT_AMQP_URL, parseAmqpUrl, type AmqpUrl } from './amqp-url.js';

export interface AmqpBrokerOptions {
  /** @default 'amqp://guest:guest@localhost:5672//' */
  readonly url?: string;
  /** @default consoleLogger('warn') from @celeriac/core */
  readonly logger?: Logger;
}

const SETTLED = Promise.resolve();

/** A delivery of this broker, with what settling it needs. */
interface AmqpDelivery extends Delivery {
  readonly raw: ConsumeMessage;
  readonly settle: Settle;
  settled: boolean;
}

export class AmqpBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly url: AmqpUrl;
  private readonly logger: Logger;
  private readonly connection: AmqpConnection;
  private readonly publisher: AmqpPublisher;
  private readonly consumers = new Set<AmqpConsumer>();
  private closed = false;

  constructor(options: AmqpBrokerOptions = {}) {
    this.url = parseAmqpUrl(options.url ?? DEFAULT_AMQP_URL);
    this.logger = options.logger ?? consoleLogger('warn');
    this.connection = new AmqpConnection(this.url, this.logger);
    this.publisher = new AmqpPublisher(this.connection, this.url.maxPriority, this.logger);
    this.capabilities = {
      nativeDelay: false,
      priority: this.url.maxPriority > 0,
      priorityOrder: 'higher-first',
      fanout: false,
      nativeDeadLetter: false,
      persistent: true,
      shared: true,
    };
  }

  async connect(): Promise<void> {
    this.checkOpen();
    await this.publisher.channel(`connect to ${this.url.shown}`);
  }

  publish(message: RawMessage, options: PublishOptions): Promise<void> {
    return this.publishMany([{ message, options }]);
  }

  async publishMany(messages: readonly OutgoingMessage[]): Promise<void> {
    this.checkOpen();
    if (messages.length === 0) return;
    const outgoing: Outgoing[] = messages.map(({ message, options }) => {
      const priority = options.priority ?? (typeof message.properties['priority'] === 'number' ? message.properties['priority'] : 0);
      return { exchange: '', routingKey: options.queue, content: Buffer.from(message.body, 'utf8'), options: publishOptions(message, priority), declare: options.queue };
    });
    const queues = [...new Set(messages.map((m) => m.options.queue))];
    await this.publisher.publish(outgoing, queues.length === 1 ? `publish to queue "${queues[0]}"` : `publish to ${queues.length} queues`);
  }

  async consume(queues: readonly string[], onDelivery: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Consumer> {
    this.checkOpen();
    const prefetch = checkPrefetch(options.prefetch);
    const consumer = new AmqpConsumer(this.connection, [...new Set(queues)], onDelivery, prefetch, this.url.maxPriority, (msg, queue, settle) => this.delivery(msg, queue, settle), this.logger);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (err) {
      this.consumers.delete(consumer);
      await consumer.close();
      throw err;
    }
    return consumer;
  }

  purge(queue: string): Promise<number> {
    return this.onQueue(queue, `purge queue "${queue}"`, async (channel) => (await channel.purgeQueue(queue)).messageCount);
  }

  size(queue: string): Promise<number> {
    return this.onQueue(queue, `size of queue "${queue}"`, async (channel) => (await channel.checkQueue(queue)).messageCount);
  }

  async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
    const d = delivery as AmqpDelivery;
    if (d.settled) throw new StateError(`message ${d.deliveryTag} of queue "${d.queue}" was already settled: it cannot be dead-lettered`);
    if (this.closed) return;
    // Settled only once the copy is confirmed: if publishing it fails, the caller can still
    // reject or ack the original.
    await this.publisher.publish([deadLetterCopy(d.message, d.queue, d.priority, reason)], `dead-letter a message of queue "${d.queue}"`);
    await settleOnce(d, null);
  }

  listDeadLetters(options?: ListDeadLettersOptions): Promise<DeadLetterEntry[]> {
    return this.withChannel('list dead letters', (channel) => listDeadLetters(channel, options));
  }

  replayDeadLetter(id: string): Promise<boolean> {
    return this.withChannel(`replay dead letter ${id}`, async (channel) => {
      let done = false;
      await scanDeadLetters(channel, async (msg, entry) => {
        if (entry.id !== id) return false;
        if (entry.message) {
          // publishMany takes the message's own priority property.
          await this.publishMany([{ message: forReplay(entry.message), options: { queue: entry.queue } }]);
          channel.ack(msg);
          done = true;
        }
        return true;
      });
      return done;
    });
  }

  deleteDeadLetter(id: string): Promise<boolean> {
    return this.withChannel(`delete dead letter ${id}`, async (channel) => {
      let done = false;
      await scanDeadLetters(channel, (msg, entry) => {
        if (entry.id !== id) return false;
        channel.ack(msg);
        done = true;
        return true;
      });
      return done;
    });
  }

  /**
   * The connection and the confirming publisher, for the rpc result backend (rpc-backend.ts),
   * which uses the broker's connection as Celery's does. Not for applications.
   */
  transport(): { readonly connection: AmqpConnection; readonly publisher: AmqpPublisher } {
    this.checkOpen();
    return { connection: this.connection, publisher: this.publisher };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) await consumer.close();
    this.consumers.clear();
    await this.publisher.close();
    await this.connection.close();
  }

  private delivery(msg: ConsumeMessage, queue: string, settle: Settle): Delivery {
    const message = fromAmqp(msg);
    const delivery: AmqpDelivery = {
      raw: msg,
      settle,
      settled: false,
      message,
      queue,
      deliveryTag: String(message.properties['correlation_id'] ?? msg.fields.deliveryTag),
      redelivered: msg.fields.redelivered,
      priority: typeof msg.properties.priority === 'number' ? msg.properties.priority : 0,
      ack: () => settleOnce(delivery, null),
      reject: (requeue: boolean) => settleOnce(delivery, requeue),
    };
    return delivery;
  }

  /** Runs `fn` on a channel of its own, closed afterwards (putting back what it did not ack). */
  private async withChannel<T>(what: string, fn: (channel: Channel) => Promise<T>): Promise<T> {
    this.checkOpen();
    const model = await this.connection.ready(what);
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** `fn` on a queue that may not exist: a missing queue (404, which closes the channel) counts 0. */
  private onQueue(queue: string, what: string, fn: (channel: Channel) => Promise<number>): Promise<number> {
    return this.withChannel(what, async (channel) => {
      try {
        await channel.checkQueue(queue);
      } catch (err) {
        if (err instanceof Error && err.message.includes('NOT_FOUND')) return 0;
        throw err;
      }
      return fn(channel);
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new StateError('the AMQP broker is closed');
  }
}

/**
 * Acks (`requeue` null) or rejects a delivery unless it was settled already. Settling only queues
 * a frame for the end of the turn (settle-batch.ts): done at once, and one shared promise rather
 * than an async function's own per message.
 */
function settleOnce(delivery: AmqpDelivery, requeue: boolean | null): Promise<void> {
  if (delivery.settled) return SETTLED;
  delivery.settled = true;
  try {
    if (requeue === null) delivery.settle.ack(delivery.raw);
    else delivery.settle.reject(delivery.raw, requeue);
  } catch (err) {
    return Promise.reject(err);
  }
  return SETTLED;
}

/**
 * A dead letter as it goes back to its queue: without RabbitMQ's death records (`x-death`,
 * `x-first-death-*`, `x-last-death-*`) and without the `expiration` that may have sent it to
 * the dead letters (it would expire again at once).
 */
function forReplay(message: RawMessage): RawMessage {
  const headers = Object.fromEntries(Object.entries(message.headers).filter(([k]) => !/^x-(death|first-death-|last-death-)/.test(k)));
  const { expiration: _expiration, ...properties } = message.properties;
  return { ...message, headers, properties };
}

/** Core's adapter loader calls this for `amqp://` and `amqps://` URLs. */
export function createBroker(url: string, context?: AdapterContext): AmqpBroker {
  return new AmqpBroker({ url, logger: context?.logger });
}
