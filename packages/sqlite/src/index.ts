/**
 * @celeriac/sqlite: the embedded default broker and result backend. `createBroker(url)` and
 * `createBackend(url)` are what core's adapter loader calls for `sqlite://` URLs.
 */
import type { AdapterContext } from '@celeriac/core';
import { SqliteBackend } from './sqlite-backend.js';
import { SqliteBroker } from './sqlite-broker.js';
import { parseSqliteUrl } from './sqlite-options.js';

export { SqliteBroker, type SqliteBrokerState } from './sqlite-broker.js';
export { SqliteBackend, type SqliteBackendState } from './sqlite-backend.js';
export type { SqliteConsumer, ConsumerState as SqliteConsumerState } from './sqlite-consumer.js';
export {
  parseSqliteUrl,
  resolveSqliteOptions,
  DEFAULT_DATABASE,
  DEFAULT_VISIBILITY_TIMEOUT_S,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_BUSY_TIMEOUT_MS,
  type SqliteOptions,
  type ResolvedSqliteOptions,
} from './sqlite-options.js';

/** The broker for a `sqlite://` URL (see {@link parseSqliteUrl}). Opens the file on `connect()`. */
export function createBroker(url: string, context?: AdapterContext): SqliteBroker {
  return new SqliteBroker({ ...parseSqliteUrl(url), ...(context ? { logger: context.logger } : {}) });
}

/** The result backend for a `sqlite://` URL (see {@link parseSqliteUrl}). Opens the file on `connect()`. */
export function createBackend(url: string, context?: AdapterContext): SqliteBackend {
  return new SqliteBackend({ ...parseSqliteUrl(url), ...(context ? { logger: context.logger } : {}) });
}
