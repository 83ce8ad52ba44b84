/**
 * One AMQP connection (amqplib), kept open: when it drops it is opened again with backoff
 * (100 ms doubling to 5 s) until closed, and each new connection is a new `generation`. Channels
 * belong to one generation; whoever holds one re-creates it from `onOpen` (consumers re-consume,
 * the publisher re-opens its confirm channel). Callers that need the connection wait for it up
 * to `connectionTimeoutMs`, then get an error that says what was attempted.
 */
import { connect, type ChannelModel } from 'amqplib';
import { abortableSleep as sleep, type Logger } from '@celeriac/core';
import type { AmqpUrl } from './amqp-url.js';
import { AmqpUnavailableError, classifyConnectError } from './amqp-errors.js';
import { coalesceWrites } from './coalesce-writes.js';
import { fastPublish } from './fast-publish.js';

const MAX_BACKOFF_MS = 5000;

export class AmqpConnection {
  private model: ChannelModel | null = null;
  /** Aborted by close(): ends a reconnect pause at once. */
  private readonly stop = new AbortController();
  private opening: Promise<void> | null = null;
  private closed = false;
  private generationNo = 0;
  /** Callers of ready(), woken when a connection is there, or with the reason it will not come. */
  private readonly waiters = new Set<(fatal?: Error) => void>();
  private readonly openListeners = new Set<(model: ChannelModel, generation: number) => void>();
  private outageReported = false;

  constructor(
    readonly url: AmqpUrl,
    private readonly logger: Logger,
  ) {}

  get generation(): number {
    return this.generationNo;
  }

  get isOpen(): boolean {
    return this.model !== null;
  }

  /** Called with every new connection (not the one open now, if any). */
  onOpen(listener: (model: ChannelModel, generation: number) => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /**
   * The open connection, waiting for it (and starting it) if need be, at most `timeoutMs`
   * (default `connection_timeout`); `what` names the attempt in the error.
   */
  async ready(what: string, timeoutMs = this.url.connectionTimeoutMs): Promise<ChannelModel> {
    if (this.closed) throw new AmqpUnavailableError(what, this.url.shown, 'the broker is closed');
    if (this.model) return this.model;
    this.start();
    let timer: NodeJS.Timeout | undefined = undefined;
    let wake!: (fatal?: Error) => void;
    const arrived = new Promise<Error | undefined>((resolve) => (wake = resolve));
    this.waiters.add(wake);
    timer = setTimeout(() => wake(), Math.max(0, timeoutMs));
    let fatal: Error | undefined;
    try {
      fatal = await arrived;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(wake);
    }
    if (this.model) return this.model;
    if (fatal) throw new AmqpUnavailableError(what, this.url.shown, `cannot connect: ${fatal.message}`, { cause: fatal });
    throw new AmqpUnavailableError(what, this.url.shown, this.closed ? 'the broker is closed' : `no connection within ${Math.max(0, Math.round(timeoutMs))} ms`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort();
    const model = this.model;
    this.model = null;
    for (const wake of [...this.waiters]) wake();
    await model?.close().catch(() => undefined);
  }

  private start(): void {
    this.opening ??= this.openLoop().finally(() => (this.opening = null));
  }

  private async openLoop(): Promise<void> {
    let backoff = 100;
    while (!this.closed && !this.model) {
      try {
        const model = await connect({ ...this.url.connect }, { ...(this.url.tls ?? {}), timeout: this.url.connectionTimeoutMs });
        if (this.closed) {
          await model.close().catch(() => undefined);
          return;
        }
        this.adopt(model);
        return;
      } catch (err) {
        if (classifyConnectError(err) === 'fatal') {
          // Trying again at once will not help (a refused login, a certificate that does not
          // verify): every waiting caller gets the reason now. Before the first connection, that
          // is the end (a later call tries again); once connected, consumers depend on this loop
          // alone, so it goes on trying, slowly, until someone fixes the cause.
          for (const wake of [...this.waiters]) wake(err as Error);
          this.logger.error(`amqp: cannot connect to ${this.url.shown}: ${(err as Error).message}`);
          if (this.generationNo === 0) return;
          await sleep(MAX_BACKOFF_MS, this.stop.signal);
          continue;
        }
        const level = this.outageReported ? 'debug' : 'warn';
        this.outageReported = true;
        this.logger[level](`amqp: cannot connect to ${this.url.shown}; retrying`, { error: (err as Error).message });
        await sleep(backoff, this.stop.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private adopt(model: ChannelModel): void {
    if (!coalesceWrites(model)) this.logger.debug('amqp: amqplib internals differ from 2.x: frames are written one by one');
    if (!fastPublish(model)) this.logger.debug('amqp: amqplib internals differ from 2.x (or its publish frames do): amqplib encodes each publish');
    this.model = model;
    this.generationNo++;
    const generation = this.generationNo;
    if (this.outageReported) this.logger.info(`amqp: connected to ${this.url.shown}`);
    this.outageReported = false;
    model.on('error', (err: Error) => this.logger.debug('amqp: connection error', { error: err.message }));
    model.on('blocked', (reason: string) => this.logger.warn(`amqp: the server blocked publishing: ${reason}`));
    model.on('close', (err?: Error) => {
      if (this.model !== model) return;
      this.model = null;
      if (this.closed) return;
      this.outageReported = true;
      this.logger.warn(`amqp: connection to ${this.url.shown} lost; reconnecting`, { error: err?.message });
      this.start();
    });
    for (const wake of [...this.waiters]) wake();
    for (const listener of [...this.openListeners]) {
      try {
        listener(model, generation);
      } catch (err) {
        this.logger.error('amqp: a reconnect handler threw', { error: err });
      }
    }
  }
}
