/**
 * Publishing with publisher confirms: one confirm channel per connection, re-opened after a
 * reconnect. A publish resolves when RabbitMQ confirmed every message. A message whose channel
 * closed before its confirm is published again once the connection is back (so it may arrive
 * twice, never zero times), until `connectionTimeoutMs` from the call; then the caller gets an
 * AmqpUnavailableError that says it may or may not have been published. A nack (the server could
 * not take it) fails the call at once. The task queues a publish goes to are declared first,
 * once per connection (amqp-topology.ts).
 */
import { once } from 'node:events';
import type { ConfirmChannel } from 'amqplib';
import type { Logger } from '@celeriac/core';
import type { AmqpConnection } from './amqp-connection.js';
import { AmqpUnavailableError } from './amqp-errors.js';
import { declareDeadLetters, declareTaskQueue } from './amqp-topology.js';

/** One message to publish: exchange, routing key, body and amqplib options. */
export interface Outgoing {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: import('amqplib').Options.Publish;
  /** A task queue to declare first ('' = none). */
  readonly declare: string;
}

interface Open {
  readonly generation: number;
  readonly channel: Promise<ConfirmChannel>;
  readonly declared: Set<string>;
}

export class AmqpPublisher {
  private open: Open | null = null;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly maxPriority: number,
    private readonly logger: Logger,
  ) {}

  /** Publishes every message and waits for its confirm (see the header); `what` names the call. */
  async publish(messages: readonly Outgoing[], what: string): Promise<void> {
    const deadline = Date.now() + this.connection.url.connectionTimeoutMs;
    let left = messages;
    for (;;) {
      const { channel, declared } = await this.current(what);
      let failed: Outgoing[];
      try {
        failed = await this.sendAll(await channel, declared, left);
      } catch (err) {
        if (isNack(err)) throw new AmqpUnavailableError(what, this.connection.url.shown, 'the server refused it (nack): it was not published', { cause: err });
        throw err;
      }
      if (failed.length === 0) return;
      if (Date.now() >= deadline) {
        throw new AmqpUnavailableError(what, this.connection.url.shown, `${failed.length} of ${messages.length} not confirmed before the connection was lost: they may or may not have been published`);
      }
      this.logger.debug(`amqp: ${failed.length} unconfirmed message(s) are published again`, { what });
      left = failed;
    }
  }

  /** Also declares the dead-letter exchange and queue on each new connection. */
  async channel(what: string): Promise<ConfirmChannel> {
    return (await this.current(what)).channel;
  }

  async close(): Promise<void> {
    const open = this.open;
    this.open = null;
    if (open) await (await open.channel.catch(() => null))?.close().catch(() => undefined);
  }

  private async current(what: string): Promise<Open> {
    const model = await this.connection.ready(what);
    const generation = this.connection.generation;
    if (this.open && this.open.generation === generation) return this.open;
    const channel = (async () => {
      const ch = await model.createConfirmChannel();
      ch.on('error', (err: Error) => this.logger.debug('amqp: publish channel error', { error: err.message }));
      ch.on('close', () => {
        if (this.open?.channel === channel) this.open = null;
      });
      await declareDeadLetters(ch);
      return ch;
    })();
    channel.catch(() => {
      if (this.open?.channel === channel) this.open = null;
    });
    this.open = { generation, channel, declared: new Set() };
    return this.open;
  }

  /** Sends all, returns those whose channel closed before their confirm; throws on a nack. */
  private async sendAll(channel: ConfirmChannel, declared: Set<string>, messages: readonly Outgoing[]): Promise<Outgoing[]> {
    for (const m of messages) {
      if (m.declare === '' || declared.has(m.declare)) continue;
      await declareTaskQueue(channel, m.declare, this.maxPriority);
      declared.add(m.declare);
    }
    const failed: Outgoing[] = [];
    let nack: unknown = null;
    const confirms: Promise<void>[] = [];
    for (const m of messages) {
      confirms.push(
        new Promise<void>((resolve) => {
          try {
            const ok = channel.publish(m.exchange, m.routingKey, m.content, m.options, (err: unknown) => {
              if (err && isNack(err)) nack ??= err;
              else if (err) failed.push(m);
              resolve();
            });
            if (!ok) confirms.push(once(channel, 'drain').then(() => undefined, () => undefined));
          } catch {
            // The channel is closed already: this one goes again on the next channel.
            failed.push(m);
            resolve();
          }
        }),
      );
    }
    await Promise.all(confirms);
    if (nack) throw nack;
    return failed;
  }
}

function isNack(err: unknown): boolean {
  return err instanceof Error && /nack/i.test(err.message);
}
