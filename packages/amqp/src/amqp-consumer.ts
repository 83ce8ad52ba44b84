/**
 * One `consume()` call: its own channel, `basic.qos(prefetch, global)` (one limit for all its
 * queues, as Celery sets it on RabbitMQ), its queues declared as Celery declares them, one
 * `basic.consume` each. After a reconnect, or when the server closes the channel alone (a
 * `consumer_timeout`, a queue error), it opens a new channel and consumes again with the prefetch
 * it has now, at most one channel per connection; deliveries of the old channel are gone back to
 * their queues (RabbitMQ requeues what a closed channel held), so settling them does nothing.
 *
 * `cancel()` stops the deliveries (basic.cancel) but keeps the channel open: messages already
 * handed over can still be acknowledged. A delivery that was on its way when cancel() was called
 * goes back to its queue at once. The channel closes with the broker.
 */
import { checkPrefetch, type Consumer, type Delivery, type Logger } from '@celeriac/core';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { AmqpConnection } from './amqp-connection.js';
import { declareTaskQueue } from './amqp-topology.js';
import { SettleBatch } from './settle-batch.js';

/** What a delivery needs to be settled: its channel, and whether that is still the live one. */
export interface Settle {
  ack(msg: ConsumeMessage): void;
  reject(msg: ConsumeMessage, requeue: boolean): void;
  /** The delivery is handed over (it will be settled through this). */
  delivered(msg: ConsumeMessage): void;
}

export type DeliveryFactory = (msg: ConsumeMessage, queue: string, settle: Settle) => Delivery;

export class AmqpConsumer implements Consumer {
  private channel: Channel | null = null;
  /** The connection generation the current (or starting) channel belongs to. */
  private generation = 0;
  private starting: Promise<void> | null = null;
  private tags: string[] = [];
  private cancelled = false;
  private closing = false;
  /** Sends the acks and rejects waiting for the end of the turn now (before the channel closes). */
  private flushSettles: () => void = () => {};
  private readonly stopListening: () => void;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly queues: readonly string[],
    private readonly onDelivery: (delivery: Delivery) => void,
    private prefetch: number,
    private readonly maxPriority: number,
    private readonly makeDelivery: DeliveryFactory,
    private readonly logger: Logger,
  ) {
    this.stopListening = connection.onOpen((model, generation) => this.restart(model, generation));
  }

  /** Starts consuming on the current connection (waiting for it); rejects if that fails. */
  async start(): Promise<void> {
    const model = await this.connection.ready(`consume from ${this.queues.join(', ')}`);
    await this.startOn(model, this.connection.generation);
  }

  /** Opens the channel and consumes, once per connection generation. */
  private startOn(model: ChannelModel, generation: number): Promise<void> {
    if (this.generation === generation && (this.starting || this.channel)) return this.starting ?? Promise.resolve();
    this.generation = generation;
    const starting = this.open(model, generation).finally(() => {
      if (this.starting === starting) this.starting = null;
    });
    this.starting = starting;
    return starting;
  }

  private restart(model: ChannelModel, generation: number): void {
    if (this.cancelled) return;
    this.startOn(model, generation).catch((err: unknown) => this.logger.error('amqp: consuming again failed', { queues: this.queues, error: err }));
  }

  private async open(model: ChannelModel, generation: number): Promise<void> {
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => this.logger.warn('amqp: consumer channel error', { queues: this.queues, error: err.message }));
    channel.on('close', () => this.onChannelClosed(channel, model, generation));
    this.channel = channel;
    this.tags = [];
    await channel.prefetch(this.prefetch, true);
    for (const queue of this.queues) await declareTaskQueue(channel, queue, this.maxPriority);
    // Acks and rejects of one event-loop turn go out together at its end, consecutive acks as
    // one (settle-batch.ts). A delivery of a channel that closed went back to its queue: settling
    // it does nothing.
    const batch = new SettleBatch(channel);
    this.flushSettles = () => {
      if (this.channel !== channel) return;
      try {
        batch.flush();
      } catch {
        // Closing as we speak: what is left went back with the channel.
      }
    };
    const settle: Settle = {
      ack: (msg) => {
        if (this.channel === channel) batch.ack(msg);
      },
      reject: (msg, requeue) => {
        if (this.channel === channel) batch.reject(msg, requeue);
      },
      delivered: (msg) => batch.delivered(msg),
    };
    for (const queue of this.queues) {
      if (this.cancelled) break;
      const { consumerTag } = await channel.consume(queue, (msg) => this.deliver(channel, msg, queue, settle), { noAck: false });
      this.tags.push(consumerTag);
    }
  }

  /**
   * The channel closed: with its connection (the next connection restarts us), or alone, on a
   * connection still up: then a new channel, after a pause (a queue error would close it again).
   */
  private onChannelClosed(channel: Channel, model: ChannelModel, generation: number): void {
    if (this.channel !== channel) return;
    this.channel = null;
    if (this.cancelled || this.closing) return;
    setTimeout(() => {
      if (this.cancelled || this.closing || this.channel || this.starting) return;
      if (!this.connection.isOpen || this.connection.generation !== generation) return;
      this.logger.warn(`amqp: the server closed the consumer channel of ${this.queues.join(', ')}; consuming again`);
      this.generation = 0;
      this.restart(model, generation);
    }, 1000).unref();
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = checkPrefetch(prefetch);
    this.channel?.prefetch(this.prefetch, true).catch((err: unknown) => this.logger.warn('amqp: changing the prefetch failed', { error: err }));
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.stopListening();
    await this.starting?.catch(() => undefined);
    const channel = this.channel;
    if (!channel) return;
    for (const tag of this.tags) await channel.cancel(tag).catch(() => undefined);
  }

  /** Closes the channel: what it still holds goes back to the queues. */
  async close(): Promise<void> {
    this.closing = true;
    await this.cancel();
    this.flushSettles();
    const channel = this.channel;
    this.channel = null;
    await channel?.close().catch(() => undefined);
  }

  private deliver(channel: Channel, msg: ConsumeMessage | null, queue: string, settle: Settle): void {
    if (msg === null) {
      // The server cancelled the consumer (queue deleted): say so; a reconnect consumes again.
      if (!this.cancelled) this.logger.warn(`amqp: the server cancelled consuming from "${queue}" (was the queue deleted?)`);
      return;
    }
    if (this.cancelled || this.channel !== channel) {
      // Not handed over: back to its queue now, not when the channel closes.
      try {
        channel.reject(msg, true);
      } catch {
        // The channel is closed: RabbitMQ put it back already.
      }
      return;
    }
    settle.delivered(msg);
    try {
      this.onDelivery(this.makeDelivery(msg, queue, settle));
    } catch (err) {
      this.logger.error('amqp: the delivery handler threw', { error: err, queue });
    }
  }
}

