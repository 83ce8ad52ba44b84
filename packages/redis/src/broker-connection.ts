/**
 * One ioredis connection of the broker, with its state as a string union changed in one place
 * (core's Lifecycle, which logs `from -> to`), plus a warning when it is lost and a note when it
 * is back.
 *
 * ioredis does the reconnecting (capped exponential backoff). Commands issued while it is away wait
 * in its offline queue, and commands that were in flight when it dropped are sent again once it is
 * back (`autoResendUnfulfilledCommands`), never failed after some number of attempts
 * (`maxRetriesPerRequest: null`): everything the broker sends is either idempotent (ack, renew)
 * or safe to repeat under at-least-once delivery (a take whose reply was lost leaves its messages
 * in `unacked`, restored after the visibility timeout). One is neither: a wait (BLMOVE into a
 * landing list) sent again after its first run's reply was lost leaves that message in the list,
 * unseen; the wait looks at `drops` (taken-messages.ts) and gives such messages back. Operations
 * that must not wait forever (connect, publish) call `waitReady()` with a deadline before they
 * send anything.
 */
import { Lifecycle } from '@celeriac/core';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from './redis-errors.js';
import type { ResolvedBrokerOptions } from './redis-broker-options.js';
import { ioredisOptions } from './redis-url.js';

export type ConnectionState = 'new' | 'connecting' | 'ready' | 'reconnecting' | 'closed';

const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  new: ['connecting', 'closed'],
  connecting: ['ready', 'reconnecting', 'closed'],
  ready: ['reconnecting', 'closed'],
  reconnecting: ['ready', 'closed'],
  closed: [],
};

/** Longest pause between two reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 2000;

export class BrokerConnection {
  readonly client: Redis;
  private readonly lifecycle: Lifecycle<ConnectionState>;
  private readonly waiters = new Set<() => void>();
  private lastError: Error | null = null;
  private lostAt = 0;
  /** How many times the socket closed: a command in flight across a change was sent again. */
  drops = 0;

  constructor(
    private readonly options: ResolvedBrokerOptions,
    readonly role: string,
    extra: Partial<RedisOptions> = {},
  ) {
    this.lifecycle = new Lifecycle(`redis broker ${options.server} (${role})`, 'new', TRANSITIONS, options.logger);
    this.client = new Redis({
      ...ioredisOptions(options.connection),
      lazyConnect: true,
      enableOfflineQueue: true,
      enableReadyCheck: true,
      autoResendUnfulfilledCommands: true,
      maxRetriesPerRequest: null,
      connectionName: `celeriac-broker-${role}`,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), MAX_RECONNECT_DELAY_MS),
      ...extra,
    });
    this.client.on('error', (err: Error) => {
      this.lastError = err;
    });
    this.client.on('ready', () => this.onReady());
    this.client.on('close', () => this.drops++);
    this.client.on('reconnecting', () => this.onLost());
    this.client.on('end', () => this.setState('closed'));
  }

  get state(): ConnectionState {
    return this.lifecycle.state;
  }

  /** Starts connecting (idempotent); the connection then lives until close(). */
  open(): void {
    if (!this.lifecycle.is('new')) return;
    this.setState('connecting');
    // The first failure is also reported through 'error'/'reconnecting'; ioredis keeps trying.
    this.client.connect().catch(() => undefined);
  }

  /**
   * Resolves once the connection is ready; with `timeoutMs`, rejects with RedisUnavailableError
   * after that long (its message ends with `outcome`, e.g. "nothing was published"). Rejects at
   * once when closed.
   */
  waitReady(operation: string, timeoutMs?: number, outcome = ''): Promise<void> {
    this.open();
    if (this.lifecycle.is('ready')) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error) => {
        this.waiters.delete(waiter);
        if (timer) clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const waiter = () => {
        if (this.lifecycle.is('ready')) done();
        else if (this.lifecycle.is('closed')) done(this.unavailable(operation, 'the broker was closed'));
      };
      this.waiters.add(waiter);
      waiter();
      if (!this.waiters.has(waiter)) return;
      if (timeoutMs !== undefined) {
        // The last error as of the deadline (a wrong password, an unverified certificate...), not as of now.
        const why = () => `not reachable for ${timeoutMs} ms${this.lastError ? `: ${this.lastError.message}` : ''}${outcome ? `; ${outcome}` : ''}`;
        timer = setTimeout(() => done(this.unavailable(operation, why())), timeoutMs);
      }
    });
  }

  /** Closes the connection; commands still queued fail with "Connection is closed". */
  async close(): Promise<void> {
    if (this.lifecycle.is('closed')) return;
    const wasReady = this.lifecycle.is('ready');
    this.setState('closed');
    if (wasReady) {
      await Promise.race([this.client.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    this.client.disconnect();
    // ioredis 5 fails queued commands when a connection closes, but not when disconnect() is called
    // while it is between two reconnection attempts: those would stay pending for ever.
    const flush = (this.client as unknown as { flushQueue?: (err: Error) => void }).flushQueue;
    if (typeof flush === 'function') flush.call(this.client, new Error('Connection is closed.'));
  }

  private unavailable(operation: string, detail: string): RedisUnavailableError {
    return new RedisUnavailableError(operation, this.options.server, detail, this.lastError ? { cause: this.lastError } : undefined);
  }

  private onReady(): void {
    if (this.lifecycle.is('closed')) return;
    if (this.lifecycle.is('reconnecting')) {
      this.options.logger.info(`redis broker ${this.options.server} (${this.role}): connection is back after ${Date.now() - this.lostAt} ms`);
    }
    this.setState('ready');
  }

  private onLost(): void {
    if (this.lifecycle.is('closed', 'reconnecting')) return;
    this.lostAt = Date.now();
    const what = this.lifecycle.is('ready') ? 'connection lost' : 'cannot connect';
    this.options.logger.warn(`redis broker ${this.options.server} (${this.role}): ${what}; reconnecting`, { error: this.lastError?.message });
    this.setState('reconnecting');
  }

  private setState(to: ConnectionState): void {
    if (this.lifecycle.state === to) return;
    this.lifecycle.set(to);
    for (const wake of [...this.waiters]) wake();
  }
}
