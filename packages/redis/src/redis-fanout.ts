/**
 * kombu's fanout exchanges on Redis (shared/celery-wire-protocol.md §2.6), the transport of
 * Celery's events and broadcast remote control: Pub/Sub, fire-and-forget.
 *
 * - publish: `PUBLISH /<db>.<exchange>/<routing key>` (or `/<db>.<exchange>` with no routing key)
 *   with the same JSON envelope as a queue message, its `delivery_info` naming the exchange and
 *   routing key;
 * - subscribe: `SADD _kombu.binding.<exchange> "<binding key>␆␖␆␖<queue>"` (as kombu declares a
 *   fanout queue; removed again on close), then `PSUBSCRIBE` the channel of the binding key with
 *   `#` turned into `*`: `/0.celeryev/*` for event monitors, `/0.celery.pidbox` for a mailbox.
 *
 * Subscribers not connected when a message is published miss it; ioredis subscribes again after
 * a reconnection (`autoResubscribe`), and what was published in between is lost, as with kombu.
 * One Pub/Sub connection per broker, opened by the first subscription.
 */
import { randomUUID } from 'node:crypto';
import type { Logger, RawMessage } from '@celeriac/core';
import type { BrokerConnection } from './broker-connection.js';
import { decodeEnvelope, encodeEnvelope, publishPriority } from './kombu-envelope.js';
import { bindingMember, type KombuKeys } from './kombu-keys.js';

/** A message received on a fanout exchange. */
export interface FanoutMessage {
  readonly exchange: string;
  /** The routing key it was published with ('' when none). */
  readonly routingKey: string;
  readonly message: RawMessage;
}

export interface FanoutSubscription {
  /** Stops receiving and removes the binding (idempotent). */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  readonly exchange: string;
  /** kombu binding key: '' or '#' for everything, `worker.#` for a prefix. @default '' */
  readonly bindingKey?: string;
  /** The name of the fanout queue this subscriber stands for (in the binding member). */
  readonly queue: string;
}

type Handler = (message: FanoutMessage) => void;

export class RedisFanout {
  private readonly patterns = new Map<string, Set<Handler>>();
  private sub: BrokerConnection | null = null;

  constructor(
    private readonly keys: KombuKeys,
    private readonly logger: Logger,
    /** The command connection (PUBLISH, SADD). */
    private readonly commands: () => BrokerConnection,
    /** Makes the Pub/Sub connection, on first subscription. */
    private readonly connect: () => BrokerConnection,
  ) {}

  /** Closes the Pub/Sub connection, if any. */
  async close(): Promise<void> {
    this.patterns.clear();
    await this.sub?.close();
  }

  private pubsub(): BrokerConnection {
    if (!this.sub) {
      this.sub = this.connect();
      this.sub.client.on('pmessage', (pattern: string, channel: string, data: string) => this.dispatch(pattern, channel, data));
    }
    return this.sub;
  }

  async publish(exchange: string, routingKey: string, message: RawMessage, timeoutMs: number): Promise<number> {
    const envelope = encodeEnvelope(message, { exchange, queue: routingKey, priority: publishPriority(message, undefined), deliveryTag: randomUUID() });
    const conn = this.commands();
    await conn.waitReady(`publish to fanout exchange "${exchange}"`, timeoutMs, 'the message was not published');
    return conn.client.publish(this.keys.fanoutChannel(exchange, routingKey), envelope);
  }

  async subscribe(options: SubscribeOptions, handler: Handler): Promise<FanoutSubscription> {
    const bindingKey = options.bindingKey ?? '';
    const member = bindingMember(bindingKey, '', options.queue);
    const pattern = this.keys.fanoutChannel(options.exchange, bindingKey.replace(/#/g, '*'));
    await this.commands().client.sadd(this.keys.binding(options.exchange), member);
    let handlers = this.patterns.get(pattern);
    if (!handlers) {
      handlers = new Set();
      this.patterns.set(pattern, handlers);
      await this.pubsub().client.psubscribe(pattern);
    }
    handlers.add(handler);
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        handlers.delete(handler);
        if (handlers.size === 0 && this.patterns.get(pattern) === handlers) {
          this.patterns.delete(pattern);
          await this.pubsub().client.punsubscribe(pattern).catch(() => undefined);
        }
        await this.commands().client.srem(this.keys.binding(options.exchange), member).catch(() => undefined);
      },
    };
  }

  private dispatch(pattern: string, channel: string, data: string): void {
    const handlers = this.patterns.get(pattern);
    if (!handlers?.size) return;
    const decoded = decodeEnvelope(data);
    if (!decoded.ok) {
      this.logger.warn(`redis broker: ignoring a fanout message on ${channel} that is not an envelope (${decoded.code})`);
      return;
    }
    const { exchange, routingKey } = this.parseChannel(channel);
    for (const handler of [...handlers]) {
      try {
        handler({ exchange, routingKey, message: decoded.message });
      } catch (err) {
        this.logger.error('redis broker: a fanout handler threw', { error: err, channel });
      }
    }
  }

  /** `<prefix>/<db>.<exchange>[/<routing key>]` → its parts, as kombu's receiver splits it. */
  private parseChannel(channel: string): { exchange: string; routingKey: string } {
    const head = `${this.keys.prefix}/${this.keys.db}.`;
    const rest = channel.startsWith(head) ? channel.slice(head.length) : channel;
    const slash = rest.indexOf('/');
    return slash < 0 ? { exchange: rest, routingKey: '' } : { exchange: rest.slice(0, slash), routingKey: rest.slice(slash + 1) };
  }
}
