/**
 * Options of the Redis broker: what the constructor accepts, their defaults, and the URL query
 * options that map onto them. Validated eagerly; messages name the option and the value received.
 */
import { ConfigError, consoleLogger, type Logger } from '@celeriac/core';
import { mask, parseRedisUrl, rejectUnknownOptions, type RedisConnectionConfig } from './redis-url.js';

export const DEFAULT_BROKER_URL = 'redis://localhost:6379/0';
/** kombu's default, in seconds. */
export const DEFAULT_VISIBILITY_TIMEOUT_S = 3600;
export const DEFAULT_BLOCK_TIMEOUT_MS = 200;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;

/**
 * URL query options the broker accepts (besides `key_prefix` and the TLS ones, see redis-url.ts):
 * it reads `visibility_timeout`; `notify_wait` is the result backend's, accepted and ignored here
 * so one URL can serve as broker and backend.
 */
const URL_OPTIONS = ['visibility_timeout', 'notify_wait'];

export interface RedisBrokerOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db][?visibility_timeout=..&key_prefix=..]`, or
   * `rediss://…` for TLS (see redis-url.ts).
   * @default 'redis://localhost:6379/0'
   */
  readonly url?: string;
  /**
   * Prepended to every key and channel, like kombu's `global_keyprefix` (queue lists, bindings,
   * `unacked`, `unacked_index`, `unacked_mutex`, dead letters, fanout channels). Python workers
   * see these messages only with the same `global_keyprefix` transport option.
   * @default the URL's `key_prefix`, else ''
   */
  readonly keyPrefix?: string;
  /**
   * Seconds a delivered, unacknowledged message may stay in `unacked` before any consumer
   * sharing the db puts it back on its queue. This broker renews the messages it holds, so only a
   * dead process's messages come back; Python workers do not renew theirs, and a consumer with a
   * shorter timeout restores them early: keep Celery's value when Python workers share the db.
   * @default the URL's `visibility_timeout`, else 3600 (kombu's)
   */
  readonly visibilityTimeout?: number;
  /**
   * Longest time, in ms, an idle consumer blocks on its first queue's main list before looking at
   * all its lists again. Messages on that list wake it at once; messages with a priority ≥ 3 or on
   * its other queues are seen within this time.
   * @default 200
   */
  readonly blockTimeoutMs?: number;
  /**
   * How long, in ms, `connect()` and `publish()` wait for Redis to be reachable (at start, or
   * while ioredis reconnects) before failing with `CELERIAC_E_UNAVAILABLE`. A publish that
   * fails this way was not sent. Consumers and acknowledgements wait as long as it takes.
   * @default 10000
   */
  readonly connectionTimeoutMs?: number;
  /** Where connection state changes and problems go. @default consoleLogger('warn') */
  readonly logger?: Logger;
}

export interface ResolvedBrokerOptions {
  readonly connection: RedisConnectionConfig;
  /** The URL with its password masked, for messages. */
  readonly displayUrl: string;
  /** host:port/db, for messages. */
  readonly server: string;
  readonly keyPrefix: string;
  readonly visibilityTimeoutS: number;
  readonly blockTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  readonly logger: Logger;
}

export function resolveBrokerOptions(options: RedisBrokerOptions): ResolvedBrokerOptions {
  const url = options.url ?? DEFAULT_BROKER_URL;
  if (typeof url !== 'string') throw new ConfigError(`Redis broker option "url" must be a string, got ${typeof url}`);
  const parsed = parseRedisUrl(url);
  rejectUnknownOptions(parsed, URL_OPTIONS, 'Redis broker');
  const fromUrl = parsed.options.get('visibility_timeout');
  const visibility = options.visibilityTimeout ?? (fromUrl === undefined ? DEFAULT_VISIBILITY_TIMEOUT_S : Number(fromUrl));
  if (!Number.isFinite(visibility) || visibility <= 0) {
    throw new ConfigError(`Redis broker option "visibilityTimeout" (URL "visibility_timeout") must be a positive number of seconds, got ${JSON.stringify(options.visibilityTimeout ?? fromUrl)}`);
  }
  const keyPrefix = options.keyPrefix ?? parsed.keyPrefix;
  if (typeof keyPrefix !== 'string') throw new ConfigError(`Redis broker option "keyPrefix" must be a string, got ${JSON.stringify(keyPrefix)}`);
  const { host, port, db } = parsed.connection;
  return {
    connection: parsed.connection,
    displayUrl: mask(url),
    server: `${host}:${port}/${db}`,
    keyPrefix,
    visibilityTimeoutS: visibility,
    blockTimeoutMs: positiveMs('blockTimeoutMs', options.blockTimeoutMs, DEFAULT_BLOCK_TIMEOUT_MS),
    connectionTimeoutMs: positiveMs('connectionTimeoutMs', options.connectionTimeoutMs, DEFAULT_CONNECTION_TIMEOUT_MS),
    logger: options.logger ?? consoleLogger('warn'),
  };
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`Redis broker option "${name}" must be a positive number of milliseconds, got ${JSON.stringify(value)}`);
  }
  return value;
}
