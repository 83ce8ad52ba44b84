/**
 * One `consume()` call: its own channel, `basic.qos(prefetch, global)` (one limit for all its
 * queues, as Celery sets it on RabbitMQ), its queues declared as Celery declares them, one
 * `basic.consume` each. After a reconnect it opens a new channel and consumes again with the
 * prefetch it has now; deliveries of the old channel are gone back to their queues (RabbitMQ
 * requeues what a dead channel held), so settling them does nothing.
 *
 * `cancel()` stops the deliveries (basic.cancel) but keeps the channel open: messages already
 * handed over can still be acknowledged. A delivery that was on its way when cancel() was called
 * goes back to its queue at once. The channel closes with the broker.
 */
import { checkPrefetch, type Consumer, type Delivery, type Logger } from '@celeriac/core';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { AmqpConnection } from './amqp-connection.js';
import { declareTaskQueue } from './amqp-topology.js';

/** What a delivery needs to be settled: its channel, and whether that is still the live one. */
export interface Settle {
  ack(msg: ConsumeMessage): void;
  reject(msg: ConsumeMessage, requeue: boolean): void;
}

export type DeliveryFactory = (msg: ConsumeMessage, queue: string, settle: Settle) => Delivery;

export class AmqpConsumer implements Consumer {
  private channel: Channel | null = null;
  private tags: string[] = [];
  private cancelled = false;
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
    this.stopListening = connection.onOpen((model) => {
      if (!this.cancelled) this.start(model).catch((err: unknown) => this.logger.error('amqp: consuming again after a reconnect failed', { queues: this.queues, error: err }));
    });
  }

  /** Opens the channel and starts consuming on the current connection. */
  async start(model?: ChannelModel): Promise<void> {
    const m = model ?? (await this.connection.ready(`consume from ${this.queues.join(', ')}`));
    const channel = await m.createChannel();
    channel.on('error', (err: Error) => this.logger.warn('amqp: consumer channel error', { queues: this.queues, error: err.message }));
    this.channel = channel;
    this.tags = [];
    await channel.prefetch(this.prefetch, true);
    for (const queue of this.queues) await declareTaskQueue(channel, queue, this.maxPriority);
    const settle: Settle = {
      ack: (msg) => {
        if (this.channel === channel) channel.ack(msg);
      },
      reject: (msg, requeue) => {
        if (this.channel === channel) channel.reject(msg, requeue);
      },
    };
    for (const queue of this.queues) {
      const { consumerTag } = await channel.consume(queue, (msg) => this.deliver(channel, msg, queue, settle), { noAck: false });
      this.tags.push(consumerTag);
    }
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = checkPrefetch(prefetch);
    this.channel?.prefetch(this.prefetch, true).catch((err: unknown) => this.logger.warn('amqp: changing the prefetch failed', { error: err }));
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.stopListening();
    const channel = this.channel;
    if (!channel) return;
    for (const tag of this.tags) await channel.cancel(tag).catch(() => undefined);
  }

  /** Closes the channel: what it still holds goes back to the queues. */
  async close(): Promise<void> {
    await this.cancel();
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
      if (this.channel === channel) channel.reject(msg, true);
      return;
    }
    try {
      this.onDelivery(this.makeDelivery(msg, queue, settle));
    } catch (err) {
      this.logger.error('amqp: the delivery handler threw', { error: err, queue });
    }
  }
}

