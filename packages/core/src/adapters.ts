/**
 * Turning a broker or backend URL into an adapter. Each scheme belongs to one package, named in a
 * fixed table (not an import string from configuration); the package is loaded with `import()` only
 * when a URL asks for it, so core has no dependency on any driver. A missing package is reported
 * with the command that installs it.
 *
 * An adapter package exports `createBroker(url, context)` and/or `createBackend(url, context)`.
 */
import { AdapterMissingError, ConfigError, UnknownSchemeError } from './errors.js';
import type { Broker } from './broker/broker.js';
import { MemoryBroker } from './broker/memory-broker.js';
import type { ResultBackend } from './backend/result-backend.js';
import { MemoryBackend } from './backend/memory-backend.js';
import { consoleLogger, type Logger } from './logger.js';

/** What the app hands an adapter besides the URL. */
export interface AdapterContext {
  readonly logger: Logger;
  /**
   * For a result backend: the app's broker, already made (an rpc:// backend sends results over the
   * broker's connection, as Celery's does).
   */
  readonly broker?: Broker;
  /** For a result backend: the app's reply identifier (`reply_to` on the messages it sends). */
  readonly replyTo?: string;
}

export interface AdapterModule {
  createBroker?(url: string, context: AdapterContext): Broker;
  createBackend?(url: string, context: AdapterContext): ResultBackend;
}

/** scheme → package that handles it. */
export const ADAPTER_PACKAGES: Readonly<Record<string, string>> = {
  sqlite: '@celeriac/sqlite',
  redis: '@celeriac/redis',
  rediss: '@celeriac/redis',
  amqp: '@celeriac/amqp',
  amqps: '@celeriac/amqp',
  rpc: '@celeriac/amqp',
  postgres: '@celeriac/postgres',
  postgresql: '@celeriac/postgres',
};

/** The URL used when none is configured: the embedded SQLite store in the working directory. */
export const DEFAULT_URL = 'sqlite:///celeriac.db';

export function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!m) throw new ConfigError(`expected a URL such as ${DEFAULT_URL} or redis://localhost:6379/0, got ${JSON.stringify(url)}`);
  return m[1]!.toLowerCase();
}

/** Throws now, not at connect time, when no adapter handles the URL's scheme. */
export function checkUrl(url: string): void {
  const scheme = schemeOf(url);
  if (scheme !== 'memory' && !ADAPTER_PACKAGES[scheme]) throw new UnknownSchemeError(url, scheme, ['memory', ...Object.keys(ADAPTER_PACKAGES)]);
}

export async function brokerFromUrl(url: string, context: AdapterContext = { logger: consoleLogger() }): Promise<Broker> {
  const scheme = schemeOf(url);
  if (scheme === 'memory') return new MemoryBroker();
  const mod = await loadAdapter(url, scheme);
  if (!mod.createBroker) throw new ConfigError(`${ADAPTER_PACKAGES[scheme]} provides no broker for ${scheme}:// URLs`);
  return mod.createBroker(url, context);
}

export async function backendFromUrl(url: string, context: AdapterContext = { logger: consoleLogger() }): Promise<ResultBackend> {
  const scheme = schemeOf(url);
  if (scheme === 'memory') return new MemoryBackend();
  const mod = await loadAdapter(url, scheme);
  if (!mod.createBackend) throw new ConfigError(`${ADAPTER_PACKAGES[scheme]} provides no result backend for ${scheme}:// URLs`);
  return mod.createBackend(url, context);
}

async function loadAdapter(url: string, scheme: string): Promise<AdapterModule> {
  const pkg = ADAPTER_PACKAGES[scheme];
  if (!pkg) throw new UnknownSchemeError(url, scheme, ['memory', ...Object.keys(ADAPTER_PACKAGES)]);
  try {
    return (await import(pkg)) as AdapterModule;
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((cause as Error).message).includes(pkg)) {
      throw new AdapterMissingError(url, pkg, cause);
    }
    throw cause;
  }
}
