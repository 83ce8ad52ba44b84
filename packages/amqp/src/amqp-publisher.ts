/**
 * Publishing with publisher confirms: one confirm channel per connection, re-opened after a
 * reconnect. A publish resolves when RabbitMQ confirmed every message. A message whose channel
 * closed before its confirm is published again once the connection is back (so it may arrive
 * twice, never zero times), until `connectionTimeoutMs` from the call; then the caller gets an
 * AmqpUnavailableError that says it may or may not have been published. A nack (the server could
 * not take it) fails the call at once. The task queues a publish goes to are declared first,
 * once per connection (amqp-topology.ts).
 */
import type { ConfirmChannel } from 'amqplib';
import { abortableSleep as sleep, ConfigError, type Logger } from '@celeriac/core';
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
  /** The channel closed (one listener per channel, not one per publish). */
  closed: boolean;
  /** Resolves at the channel's next 'drain' or its close; one per episode of a full socket. */
  drained: Promise<void> | null;
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
    const unavailable = (detail: string, cause?: unknown) => new AmqpUnavailableError(what, this.connection.url.shown, detail, { cause });
    let left = messages;
    for (;;) {
      let outcome: Awaited<ReturnType<AmqpPublisher['sendAll']>>;
      try {
        const open = await this.current(what, deadline - Date.now());
        outcome = await this.sendAll(await open.channel, open, left, deadline);
      } catch (err) {
        // A refused declaration (ConfigError) is final; a connection that did not come in time too.
        if (err instanceof ConfigError) throw err;
        if (err instanceof AmqpUnavailableError) throw left === messages ? err : unavailable(`${left.length} of ${messages.length} not confirmed before the connection was lost: they may or may not have been published`, err);
        // The channel went with its connection while opening or declaring: again, on the next one.
        if (Date.now() >= deadline) throw unavailable(`the connection was lost (${(err as Error)?.message}): ${left === messages ? 'it was not published' : 'some may or may not have been published'}`, err);
        await sleep(50);
        continue;
      }
      if (outcome === 'timeout') {
        throw unavailable(`not confirmed within ${this.connection.url.connectionTimeoutMs} ms (is publishing blocked, e.g. by a memory or disk alarm?): it may or may not have been published`);
      }
      if (outcome.nack) {
        const some = left.length < messages.length || left.length > 1 ? ' (some of the others may have been)' : '';
        throw unavailable(`the server refused a message (nack): it was not published${some}`, outcome.nack);
      }
      if (outcome.failed.length === 0) return;
      if (Date.now() >= deadline) {
        throw unavailable(`${outcome.failed.length} of ${messages.length} not confirmed before the connection was lost: they may or may not have been published`);
      }
      this.logger.debug(`amqp: ${outcome.failed.length} unconfirmed message(s) are published again`, { what });
      left = outcome.failed;
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

  private async current(what: string, timeoutMs?: number): Promise<Open> {
    const model = await this.connection.ready(what, timeoutMs);
    const generation = this.connection.generation;
    if (this.open && this.open.generation === generation) return this.open;
    const channel = (async () => {
      const ch = await model.createConfirmChannel();
      ch.on('error', (err: Error) => this.logger.debug('amqp: publish channel error', { error: err.message }));
      ch.on('close', () => {
        open.closed = true;
        if (this.open?.channel === channel) this.open = null;
      });
      await declareDeadLetters(ch);
      return ch;
    })();
    channel.catch(() => {
      if (this.open?.channel === channel) this.open = null;
    });
    const open: Open = { generation, channel, declared: new Set(), closed: false, drained: null };
    this.open = open;
    return this.open;
  }

  /**
   * Sends all (pausing while the socket is full), then waits for the confirms until `deadline`:
   * 'timeout', or those whose channel closed before their confirm and the first nack.
   */
  private async sendAll(channel: ConfirmChannel, open: Open, messages: readonly Outgoing[], deadline: number): Promise<{ failed: Outgoing[]; nack: unknown } | 'timeout'> {
    for (const m of messages) {
      if (m.declare === '' || open.declared.has(m.declare)) continue;
      await declareTaskQueue(channel, m.declare, this.maxPriority);
      open.declared.add(m.declare);
    }
    const failed: Outgoing[] = [];
    let nack: unknown = null;
    // One promise for all the confirms (a publish of a thousand tasks waited on a thousand).
    let unconfirmed = 1;
    let allConfirmed!: () => void;
    const confirmed = new Promise<void>((resolve) => (allConfirmed = resolve));
    const confirm = () => {
      if (--unconfirmed === 0) allConfirmed();
    };
    for (const m of messages) {
      if (open.closed) {
        failed.push(m);
        continue;
      }
      unconfirmed++;
      let full = false;
      try {
        full = !channel.publish(m.exchange, m.routingKey, m.content, m.options, (err: unknown) => {
          if (err && isNack(err)) nack ??= err;
          else if (err) failed.push(m);
          confirm();
        });
      } catch {
        // The channel is closed already: this one goes again on the next channel.
        failed.push(m);
        confirm();
      }
      if (full) await drainedOrClosed(channel, open);
    }
    confirm();
    return (await beforeDeadline(confirmed, deadline)) ? { failed, nack } : 'timeout';
  }
}

/** Resolves when the channel can take more ('drain'), or is closed; shared by concurrent publishes. */
function drainedOrClosed(channel: ConfirmChannel, open: Open): Promise<void> {
  if (open.closed) return Promise.resolve();
  return (open.drained ??= new Promise<void>((resolve) => {
    const done = () => {
      channel.off('drain', done);
      channel.off('close', done);
      open.drained = null;
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
  }));
}

/** True when `work` settled before `deadline` (epoch ms). */
export async function beforeDeadline(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined = undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

function isNack(err: unknown): boolean {
  return err instanceof Error && /nack/i.test(err.message);
}
