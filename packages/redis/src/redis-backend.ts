/**
 * The Redis result backend, wire-compatible with Celery's (celery/backends/redis.py): Python
 * clients read what celeriac workers store and the other way round.
 *
 * URL:   `redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS (see redis-url.ts);
 *        query options `key_prefix` (a prefix for every key and channel, like kombu's
 *        `global_keyprefix`), `notify_wait` (see {@link RedisBackendOptions.notifyWaitMs}), the
 *        TLS options, and `visibility_timeout` (a broker option, accepted and ignored so one URL
 *        can serve as broker and backend).
 * Capabilities: persistent (as Redis is), shared between processes; push notification of writes.
 *        Optional capabilities beyond the ResultBackend contract: group results (`saveGroup`,
 *        `restoreGroup`, `deleteGroup`) and chord counting (`chords`).
 * Options: see {@link RedisBackendOptions}.
 *
 * Layout: `celery-task-meta-<id>` holds the meta JSON, written with SETEX (SET when expiry is
 * disabled) and PUBLISHed on the channel of the same name, in one Lua script that also leaves a
 * stored SUCCESS alone (Celery does a separate GET first; this is the atomic form of the same
 * guard). `watch()` subscribes to that channel on one Pub/Sub connection shared by all watchers
 * (result-subscriber.ts); a task this client sends on its own, to be awaited, names the client's
 * notify channel instead, where celeriac workers publish its states too (notify-channel.ts). The results a worker stores in one event-loop turn go in one call of the
 * many-keys form of that script (result-writes.ts). Two connections per backend at most: commands
 * and Pub/Sub, both opened on first use; ioredis reconnects them, and commands issued meanwhile
 * wait in its offline queue.
 */
import {
  ClosedError,
  ConfigError,
  consoleLogger,
  decodeResultMeta,
  type AdapterContext,
  type ChordStore,
  type GroupStore,
  type ResultTuple,
  type BackendCapabilities,
  type Logger,
  type ResultBackend,
  type ResultMeta,
  type ResultWatch,
  type SetResultOptions,
} from '@celeriac/core';
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { NOTIFY_CHANNEL_PREFIX, NotifyChannel } from './notify-channel.js';
import { RedisChordStore } from './result-chords.js';
import { RedisGroupStore } from './result-groups.js';
import { ResultKeys } from './result-keys.js';
import { ttlMs } from './result-scripts.js';
import { ResultWrites } from './result-writes.js';
import { laneFor } from './shared-lane.js';
import { ResultSubscriber } from './result-subscriber.js';
import { ioredisOptions, mask, parseRedisUrl, rejectUnknownOptions } from './redis-url.js';

export interface RedisBackendOptions {
  /**
   * Where the results live (see the header for the format).
   * @default 'redis://localhost:6379/0'
   */
  readonly url?: string;
  /**
   * Prepended to every key and channel name, like kombu's `global_keyprefix`. Python Celery 5.2's
   * backend has no such option: only an empty prefix is readable by Python 5.2 clients.
   * @default the URL's `key_prefix`, else ''
   */
  readonly keyPrefix?: string;
  /**
   * Milliseconds a result channel stays subscribed after its last watcher left, so that a caller
   * re-arming `watch()` in a loop does not resubscribe each time (channels released close
   * together are unsubscribed together: each after between half and one and a half of this).
   * @default 1000
   */
  readonly unsubscribeDelay?: number;
  /**
   * Milliseconds a result awaited right after its task was sent is waited for on this client's
   * notify channel (notify-channel.ts) before the task's own channel is subscribed too: the
   * longest a task run by a worker that does not publish there (Python Celery) can be noticed
   * late. 0 turns the notify channel off: every awaited task is subscribed to, as Celery does.
   * @default the URL's `notify_wait`, else 2
   */
  readonly notifyWaitMs?: number;
  /**
   * Where connection problems and state changes go.
   * @default consoleLogger('warn') from @celeriac/core
   */
  readonly logger?: Logger;
}

export const DEFAULT_REDIS_URL = 'redis://localhost:6379/0';
export const DEFAULT_UNSUBSCRIBE_DELAY_MS = 1000;
export const DEFAULT_NOTIFY_WAIT_MS = 2;
/** URL options the backend accepts besides the connection ones: its own, and the broker's (ignored). */
const URL_OPTIONS = ['notify_wait', 'visibility_timeout'];

type BackendState = 'new' | 'open' | 'closed';

export class RedisBackend implements ResultBackend, GroupStore {
  readonly capabilities: BackendCapabilities = { persistent: true, shared: true };
  readonly keys: ResultKeys;
  /** Chord counting in Celery's layout (see result-chords.ts). */
  readonly chords: ChordStore;
  /** Saved group results in Celery's layout (see result-groups.ts); also as methods of the backend. */
  readonly groups: GroupStore;
  private readonly url: string;
  /** The URL without its password, for messages. */
  private readonly shownUrl: string;
  private readonly clientOptions: RedisOptions;
  private readonly logger: Logger;
  private readonly subscriber: ResultSubscriber;
  /** The client's notify channel (notify-channel.ts), consulted before the task's own channel. */
  private readonly notify: NotifyChannel | null;
  private readonly writes: ResultWrites;
  private state: BackendState = 'new';
  private client: Redis | null = null;
  private outageReported = false;

  constructor(options: RedisBackendOptions = {}) {
    this.url = options.url ?? DEFAULT_REDIS_URL;
    this.shownUrl = mask(this.url);
    const parsed = parseRedisUrl(this.url);
    rejectUnknownOptions(parsed, URL_OPTIONS, 'Redis result backend');
    const keyPrefix = options.keyPrefix ?? parsed.keyPrefix;
    if (typeof keyPrefix !== 'string') throw new ConfigError(`Redis backend option "keyPrefix" must be a string, got ${JSON.stringify(keyPrefix)}`);
    const delay = options.unsubscribeDelay ?? DEFAULT_UNSUBSCRIBE_DELAY_MS;
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
      throw new ConfigError(`Redis backend option "unsubscribeDelay" must be a non-negative number of milliseconds, got ${JSON.stringify(delay)}`);
    }
    const urlWait = parsed.options.get('notify_wait');
    const notifyWait = options.notifyWaitMs ?? (urlWait === undefined ? DEFAULT_NOTIFY_WAIT_MS : Number(urlWait));
    if (typeof notifyWait !== 'number' || !Number.isFinite(notifyWait) || notifyWait < 0) {
      throw new ConfigError(`Redis backend option "notifyWaitMs" (URL "notify_wait") must be a non-negative number of milliseconds, got ${JSON.stringify(options.notifyWaitMs ?? urlWait)}`);
    }
    this.logger = options.logger ?? consoleLogger('warn');
    this.keys = new ResultKeys(keyPrefix);
    this.notify = notifyWait > 0 ? new NotifyChannel(`${keyPrefix}${NOTIFY_CHANNEL_PREFIX}${randomUUID()}`, notifyWait, Math.max(delay, notifyWait)) : null;
    this.clientOptions = { ...ioredisOptions(parsed.connection), lazyConnect: true };
    this.subscriber = new ResultSubscriber(
      () =>
        new Redis({
          ...this.clientOptions,
          // Re-subscribing is the subscriber's job (it wakes watchers when the server confirms).
          autoResubscribe: false,
          // A SUBSCRIBE waits for the connection however long it takes, instead of failing.
          maxRetriesPerRequest: null,
          // ioredis (5.x) sends its ready check (INFO) only once its CLIENT SETINFO replies are
          // in, while a SUBSCRIBE issued meanwhile is written at once (Redis allows it while
          // loading): the INFO then meets a connection in subscriber mode, the ready check fails
          // and the connection is dropped and made again, with a warning. Seen when a client's
          // second task was sent while this connection was still starting. A subscriber sends
          // nothing else, so it does without the check.
          enableReadyCheck: false,
        }),
      this.logger,
      delay,
      this.notify,
    );
    const commands = () => this.commands();
    this.groups = new RedisGroupStore(commands, this.keys, this.logger);
    this.writes = new ResultWrites({
      client: commands,
      stopped: () => this.state === 'closed',
      logger: this.logger,
      what: `redis backend ${this.shownUrl}`,
      lane: laneFor(parsed.connection),
    });
    this.chords = new RedisChordStore(commands, this.keys);
  }

  /** Opens the command connection now (it opens on first use otherwise); rejects if that fails. */
  async connect(): Promise<void> {
    const client = this.commands();
    if (client.status === 'wait') await client.connect();
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    return this.decode(taskId, await this.commands().get(this.keys.task(taskId)));
  }

  async getMany(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    if (taskIds.length === 0) return [];
    const texts = await this.commands().mget(taskIds.map((id) => this.keys.task(id)));
    return texts.map((text, i) => this.decode(taskIds[i]!, text));
  }

  set(taskId: string, meta: ResultMeta, options: SetResultOptions = {}): Promise<void> {
    try {
      const ttl = ttlMs(options.expiresIn, 'set()');
      if (typeof meta?.status !== 'string') throw new ConfigError(`result metadata needs a string "status", got ${JSON.stringify(meta?.status)}`);
      // Written together with the other results of this event-loop turn, and retried through an
      // outage (result-writes.ts): the worker acknowledges the task once this resolves.
      const notify = options.notify;
      if (notify !== undefined && notify !== null && typeof notify !== 'string') throw new ConfigError(`set() option "notify" must be a channel name, got ${JSON.stringify(notify)}`);
      return this.writes.write(this.keys.task(taskId), JSON.stringify(meta), ttl, true, notify ?? '', options.firstWrite === true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async delete(taskId: string): Promise<void> {
    await this.commands().del(this.keys.task(taskId));
  }

  /** Wakes with the published metadata when a write woke it (see ResultBackend.watch). */
  watch(taskId: string): ResultWatch {
    const pushed = this.notify?.watch(taskId);
    if (pushed) return pushed;
    const { woken, stop } = this.subscriber.watch(this.keys.task(taskId));
    return { woken: woken.then((published) => (published === undefined ? undefined : (this.decode(taskId, published) ?? undefined))), stop };
  }

  /**
   * Ahead of the `watch()` that is likely to follow: names the notify channel for the message's
   * header (notify-channel.ts), or else subscribes to the task's own channel now.
   */
  expect(taskId: string): string | void {
    const notify = this.subscriber.notifyFor(taskId);
    if (notify !== undefined) return notify;
    this.subscriber.prepare(this.keys.task(taskId));
  }

  /** What the channel armed by `expect()` has seen (see ResultBackend.peek). */
  peek(taskId: string): ResultMeta | null | undefined {
    const pushed = this.notify?.peek(taskId);
    if (pushed !== undefined) return pushed;
    const seen = this.subscriber.peek(this.keys.task(taskId));
    return seen === null || seen === undefined ? seen : (this.decode(taskId, seen) ?? undefined);
  }

  saveGroup(groupId: string, result: ResultTuple, options?: SetResultOptions): Promise<void> {
    return this.groups.saveGroup(groupId, result, options);
  }

  restoreGroup(groupId: string): Promise<ResultTuple | null> {
    return this.groups.restoreGroup(groupId);
  }

  deleteGroup(groupId: string): Promise<void> {
    return this.groups.deleteGroup(groupId);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    // Result writes still waiting for the end of this turn go now, ahead of the QUIT.
    this.writes.leave();
    const writing = this.writes.drain();
    this.setState('closed');
    const client = this.client;
    this.client = null;
    await this.subscriber.close();
    if (client) {
      if (client.status === 'ready') {
        // QUIT after the replies already asked for, so a set() in flight still lands.
        await client.quit().catch(() => client.disconnect());
      } else {
        client.disconnect();
      }
    }
    await writing;
  }

  private commands(): Redis {
    if (this.state === 'closed') throw new ClosedError(`the Redis result backend on ${this.shownUrl}`);
    if (this.client) return this.client;
    const client = new Redis(this.clientOptions);
    client.on('ready', () => {
      this.outageReported = false;
      this.setState('open');
    });
    client.on('error', (err: Error) => {
      // ioredis reports every failed reconnect attempt; one warning per outage is enough.
      const level = this.outageReported ? 'debug' : 'warn';
      this.outageReported = true;
      this.logger[level](`redis backend ${this.shownUrl}: connection error`, { error: err });
    });
    this.client = client;
    return client;
  }

  private decode(taskId: string, text: string | null): ResultMeta | null {
    if (text === null) return null;
    try {
      return decodeResultMeta(taskId, JSON.parse(text));
    } catch (error) {
      this.logger.warn('redis backend: stored result is not valid JSON; treating it as missing', { taskId, error });
      return null;
    }
  }

  private setState(to: BackendState): void {
    if (to === this.state) return;
    this.logger.debug(`redis backend ${this.shownUrl}: ${this.state} -> ${to}`);
    this.state = to;
  }
}

/** The result backend for a `redis://` or `rediss://` URL. Connects on first use or `connect()`. */
export function createBackend(url: string, context?: AdapterContext): RedisBackend {
  return new RedisBackend({ url, ...(context ? { logger: context.logger } : {}) });
}
