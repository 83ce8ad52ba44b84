/**
 * `amqp://` and `amqps://` URLs, as kombu and Celery write them:
 *
 *   amqp://[user[:password]@]host[:port][/vhost][?options]
 *
 * - The vhost is the path, percent-decoded: `/` (or none, or kombu's `//`, or `/%2F`) is the
 *   default vhost `/`; `/staging` is `staging`.
 * - Default user and password `guest` / `guest` (RabbitMQ's, and kombu's); default port 5672,
 *   5671 for `amqps`.
 * - Query options read here: `heartbeat` (seconds, default 60, as kombu's py-amqp), `max_priority`
 *   (`x-max-priority` of the task queues celeriac declares, as Celery's `task_queue_max_priority`;
 *   default none: no priority queues), `connection_timeout` (ms). `amqps` TLS options:
 *   `ca_certs`, `certfile`, `keyfile` (PEM files, as Celery's `broker_use_ssl`), `cert_reqs`
 *   (`CERT_REQUIRED` default, or `CERT_NONE`). Any other option is an error that names it.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '@celeriac/core';
import type { Options } from 'amqplib';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

export interface AmqpUrl {
  readonly scheme: 'amqp' | 'amqps';
  readonly connect: Options.Connect;
  readonly tls: TlsOptions | null;
  readonly vhost: string;
  /** The URL without its password, for messages. */
  readonly shown: string;
  readonly heartbeatS: number;
  /** 0: task queues are declared without `x-max-priority`. */
  readonly maxPriority: number;
  readonly connectionTimeoutMs: number;
}

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@localhost:5672//';
const DEFAULT_HEARTBEAT_S = 60;
const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
const KNOWN = ['heartbeat', 'max_priority', 'connection_timeout', 'ca_certs', 'certfile', 'keyfile', 'cert_reqs'];

export function parseAmqpUrl(url: string): AmqpUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`not a valid AMQP URL: ${JSON.stringify(maskUrl(url))} (expected amqp://user:password@host:5672/vhost)`);
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== 'amqp' && scheme !== 'amqps') throw new ConfigError(`an AMQP URL starts with amqp:// or amqps://, got ${JSON.stringify(maskUrl(url))}`);
  for (const key of parsed.searchParams.keys()) {
    if (!KNOWN.includes(key)) throw new ConfigError(`unknown AMQP URL option "${key}"; known options: ${KNOWN.join(', ')}`);
  }
  const path = parsed.pathname;
  // '' and '/' and kombu's '//' mean the default vhost; otherwise the path minus its leading '/'.
  const vhost = path === '' || path === '/' || path === '//' ? '/' : decodeURIComponent(path.slice(1));
  const number = (name: string, fallback: number, min: number): number => {
    const text = parsed.searchParams.get(name);
    if (text === null) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`AMQP URL option "${name}" must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  const maxPriority = number('max_priority', 0, 0);
  if (maxPriority > 255) throw new ConfigError(`AMQP URL option "max_priority" must be at most 255 (RabbitMQ's limit), got ${maxPriority}`);
  const heartbeatS = number('heartbeat', DEFAULT_HEARTBEAT_S, 0);
  const port = parsed.port === '' ? (scheme === 'amqps' ? 5671 : 5672) : Number(parsed.port);
  const connect: Options.Connect = {
    protocol: scheme,
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port,
    username: parsed.username === '' ? 'guest' : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? (parsed.username === '' ? 'guest' : '') : decodeURIComponent(parsed.password),
    vhost,
    heartbeat: heartbeatS,
  };
  return {
    scheme,
    connect,
    tls: scheme === 'amqps' ? tlsOptions(parsed.searchParams, connect.hostname!) : rejectTlsOptions(parsed.searchParams),
    vhost,
    shown: maskUrl(url),
    heartbeatS,
    maxPriority,
    connectionTimeoutMs: number('connection_timeout', DEFAULT_CONNECTION_TIMEOUT_MS, 1),
  };
}

function tlsOptions(query: URLSearchParams, servername: string): TlsOptions {
  const read = (name: string): Buffer | undefined => {
    const file = query.get(name);
    if (file === null) return undefined;
    try {
      return readFileSync(file);
    } catch (cause) {
      throw new ConfigError(`AMQP URL option "${name}": cannot read ${JSON.stringify(file)}`, { cause });
    }
  };
  const reqs = query.get('cert_reqs') ?? 'CERT_REQUIRED';
  if (reqs !== 'CERT_REQUIRED' && reqs !== 'CERT_NONE') throw new ConfigError(`AMQP URL option "cert_reqs" must be CERT_REQUIRED or CERT_NONE, got ${JSON.stringify(reqs)}`);
  const options: TlsOptions = { servername, rejectUnauthorized: reqs === 'CERT_REQUIRED' };
  const ca = read('ca_certs');
  const cert = read('certfile');
  const key = read('keyfile');
  if (ca) options.ca = ca;
  if (cert) options.cert = cert;
  if (key) options.key = key;
  return options;
}

function rejectTlsOptions(query: URLSearchParams): null {
  for (const name of ['ca_certs', 'certfile', 'keyfile', 'cert_reqs']) {
    if (query.has(name)) throw new ConfigError(`AMQP URL option "${name}" needs an amqps:// URL`);
  }
  return null;
}

/** The URL with its password replaced by `***`. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}
