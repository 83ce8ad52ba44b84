/**
 * Options shared by the SQLite broker and backend, with their defaults and eager validation, and
 * the parser for `sqlite://` URLs that produces them.
 */
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, type Logger } from '@celeriac/core';

export interface SqliteOptions {
  /**
   * The database file. A relative path is resolved against the working directory when the options
   * are parsed. Every process that names the same file shares the same queues and results.
   * @default './celeriac.db'
   */
  readonly path: string;
  /**
   * Seconds a delivered message stays leased to its consumer before another consumer may take it
   * back. A live consumer renews its leases every quarter of this, so only the messages of a
   * consumer that died (or whose event loop was blocked for this long) are redelivered.
   * @default 60
   */
  readonly visibilityTimeout?: number;
  /**
   * Longest pause, in milliseconds, between two looks at an idle queue (or, for `watch()`, at the
   * database). Polling starts at 1 ms after activity and doubles up to this; a write by another
   * process usually wakes pollers earlier through a file watch on the database's `-wal` file.
   * @default 50
   */
  readonly pollInterval?: number;
  /**
   * Milliseconds a connection waits for another process's write lock before failing (SQLite's
   * `busy_timeout`).
   * @default 5000
   */
  readonly busyTimeout?: number;
  /**
   * Where warnings (a malformed row set aside, a lease lost) and state changes go.
   * @default consoleLogger('warn') from @celeriac/core
   */
  readonly logger?: Logger;
}

/** The options with every default applied. */
export interface ResolvedSqliteOptions {
  readonly path: string;
  readonly visibilityTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly busyTimeoutMs: number;
}

export const DEFAULT_DATABASE = 'celeriac.db';
export const DEFAULT_VISIBILITY_TIMEOUT_S = 60;
export const DEFAULT_POLL_INTERVAL_MS = 50;
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export function resolveSqliteOptions(options: SqliteOptions): ResolvedSqliteOptions {
  if (typeof options.path !== 'string' || options.path === '') {
    throw new ConfigError(`SQLite option "path" must be a non-empty file path, got ${JSON.stringify(options.path)}`);
  }
  if (options.path === ':memory:' || options.path.startsWith('file:')) {
    throw new ConfigError(`SQLite option "path" must name a file that several connections can share, got ${JSON.stringify(options.path)}; use memory:// for an in-process store`);
  }
  const visibility = options.visibilityTimeout ?? DEFAULT_VISIBILITY_TIMEOUT_S;
  const poll = options.pollInterval ?? DEFAULT_POLL_INTERVAL_MS;
  const busy = options.busyTimeout ?? DEFAULT_BUSY_TIMEOUT_MS;
  positive('visibilityTimeout', visibility, 'seconds');
  positive('pollInterval', poll, 'milliseconds');
  positive('busyTimeout', busy, 'milliseconds');
  return {
    path: isAbsolute(options.path) ? options.path : resolve(options.path),
    visibilityTimeoutMs: Math.round(visibility * 1000),
    pollIntervalMs: poll,
    busyTimeoutMs: Math.round(busy),
  };
}

function positive(name: string, value: unknown, unit: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`SQLite option "${name}" must be a positive number of ${unit}, got ${JSON.stringify(value)}`);
  }
}

/** URL query parameters and the option each one sets. */
const QUERY_OPTIONS = {
  visibility_timeout: 'visibilityTimeout',
  poll_interval: 'pollInterval',
  busy_timeout: 'busyTimeout',
} as const;

/**
 * Parses a `sqlite://` URL, the SQLAlchemy way Celery users know:
 *
 * - `sqlite://` — `./celeriac.db` in the working directory;
 * - `sqlite:///relative/path.db` — three slashes: relative to the working directory;
 * - `sqlite:////abs/path.db` — four slashes: an absolute path;
 * - query options: `visibility_timeout` (seconds), `poll_interval` (ms), `busy_timeout` (ms).
 *
 * Percent-escapes in the path are decoded. Unknown query options are an error.
 */
export function parseSqliteUrl(url: string): SqliteOptions {
  const m = /^sqlite:\/\/([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(url);
  if (!m) throw new ConfigError(`expected a URL such as sqlite:///celeriac.db, got ${JSON.stringify(url)}`);
  const rest = m[1]!;
  let path: string;
  if (rest === '' || rest === '/') path = DEFAULT_DATABASE;
  else if (!rest.startsWith('/')) {
    throw new ConfigError(`a sqlite:// URL has no host: write sqlite:///${rest} for a relative path or sqlite:////${rest} for an absolute one, got ${JSON.stringify(url)}`);
  } else path = decode(rest.slice(1), url);
  const options: { -readonly [K in keyof SqliteOptions]: SqliteOptions[K] } = { path };
  for (const [key, value] of new URLSearchParams(m[2] ?? '')) {
    const option = QUERY_OPTIONS[key as keyof typeof QUERY_OPTIONS];
    if (!option) {
      throw new ConfigError(`unknown sqlite:// URL option "${key}"; known options: ${Object.keys(QUERY_OPTIONS).join(', ')}`);
    }
    const n = value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new ConfigError(`sqlite:// URL option "${key}" must be a positive number, got ${JSON.stringify(value)}`);
    }
    options[option] = n;
  }
  return options;
}

function decode(text: string, url: string): string {
  try {
    return decodeURIComponent(text);
  } catch (cause) {
    throw new ConfigError(`the path in ${JSON.stringify(url)} has an invalid percent-escape`, { cause });
  }
}
