/**
 * Parsing `redis://` and `rediss://` URLs, shared by the Redis broker and the Redis result backend.
 *
 * URL:   `redis://[[username]:password@]host[:port][/db][?options]`
 *        `rediss://…` — the same over TLS.
 *        Defaults: host `localhost`, port 6379, db 0. User name and password are percent-decoded;
 *        `redis://:secret@host` is the usual password-only form (as in Celery and kombu).
 * Options (query string):
 *   - `key_prefix` — a prefix for every key and Pub/Sub channel this client touches, as kombu's
 *     `global_keyprefix` transport option does. Meant for tests and for sharing one db. It is NOT
 *     handed to ioredis (whose `keyPrefix` would skip channels): each caller prepends it itself.
 *   - `ssl_cert_reqs` (rediss only) — `required` / `CERT_REQUIRED` (the default), `optional` /
 *     `CERT_OPTIONAL`, `none` / `CERT_NONE`: whether the server certificate is verified.
 *   - `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile` (rediss only) — paths of PEM files.
 *   - anything else is returned in `options` untouched, for the broker or the backend to accept
 *     or reject (each validates its own; see `rejectUnknownOptions`).
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '@celeriac/core';
import type { RedisOptions } from 'ioredis';

export type CertRequirement = 'required' | 'optional' | 'none';

export interface RedisTlsOptions {
  readonly certReqs: CertRequirement;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** Where and how to connect: everything ioredis needs, and nothing about keys. */
export interface RedisConnectionConfig {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  /** Present for `rediss://` URLs. */
  readonly tls?: RedisTlsOptions;
}

export interface ParsedRedisUrl {
  readonly connection: RedisConnectionConfig;
  /** From `key_prefix`; `''` when absent. */
  readonly keyPrefix: string;
  /** Query options this parser does not know, for the caller to validate. */
  readonly options: ReadonlyMap<string, string>;
}

export const DEFAULT_REDIS_PORT = 6379;

const TLS_OPTIONS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile'] as const;

const CERT_REQS: Readonly<Record<string, CertRequirement>> = {
  required: 'required',
  cert_required: 'required',
  optional: 'optional',
  cert_optional: 'optional',
  none: 'none',
  cert_none: 'none',
};

export function parseRedisUrl(url: string): ParsedRedisUrl {
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new ConfigError(`expected a URL such as redis://localhost:6379/0 or rediss://host:6380/0, got ${JSON.stringify(mask(url))}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError(`cannot parse the Redis URL ${JSON.stringify(mask(url))}`, { cause });
  }
  const port = parsed.port === '' ? DEFAULT_REDIS_PORT : Number(parsed.port);
  const dbText = parsed.pathname.replace(/^\/+|\/+$/g, '');
  if (!/^\d*$/.test(dbText)) {
    throw new ConfigError(`the path of a Redis URL is the db number (e.g. /0), got ${JSON.stringify(parsed.pathname)} in ${JSON.stringify(mask(url))}`);
  }
  const query = new Map<string, string>(parsed.searchParams);
  const keyPrefix = query.get('key_prefix') ?? '';
  query.delete('key_prefix');
  const tls = scheme === 'rediss' ? takeTlsOptions(query, url) : undefined;
  if (scheme === 'redis') {
    const misplaced = TLS_OPTIONS.find((name) => query.has(name));
    if (misplaced) throw new ConfigError(`Redis URL option "${misplaced}" needs the rediss:// scheme, got ${JSON.stringify(mask(url))}`);
  }
  const username = percentDecode(parsed.username);
  const password = percentDecode(parsed.password);
  return {
    connection: {
      // WHATWG keeps the brackets of an IPv6 literal; sockets want the bare address.
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
      port,
      db: dbText === '' ? 0 : Number(dbText),
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(tls ? { tls } : {}),
    },
    keyPrefix,
    options: query,
  };
}

/** Throws for any query option of `parsed` not in `known` (the caller's own options). */
export function rejectUnknownOptions(parsed: ParsedRedisUrl, known: readonly string[], what: string): void {
  for (const key of parsed.options.keys()) {
    if (!known.includes(key)) {
      const all = ['key_prefix', ...TLS_OPTIONS, ...known];
      throw new ConfigError(`unknown ${what} URL option "${key}"; known options: ${all.join(', ')}`);
    }
  }
}

/**
 * ioredis options for a connection. Reads the TLS PEM files named in the URL, if any. The caller
 * adds its own behaviour (lazyConnect, retry strategy, offline queue…).
 */
export function ioredisOptions(config: RedisConnectionConfig): RedisOptions {
  const options: RedisOptions = { host: config.host, port: config.port, db: config.db };
  if (config.username !== undefined) options.username = config.username;
  if (config.password !== undefined) options.password = config.password;
  if (config.tls) {
    const { certReqs, caFile, certFile, keyFile } = config.tls;
    options.tls = {
      // Node has no "verify if presented": optional verifies nothing, like none.
      rejectUnauthorized: certReqs === 'required',
      ...(caFile ? { ca: readFileSync(caFile) } : {}),
      ...(certFile ? { cert: readFileSync(certFile) } : {}),
      ...(keyFile ? { key: readFileSync(keyFile) } : {}),
    };
  }
  return options;
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function mask(url: string): string {
  // Up to the last `@` of the authority, as the URL parser reads `redis://:p@ss@host` (password `p@ss`).
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^/?#]*@/i, '$1***@');
}

/**
 * Percent-decodes a user name or password as Python's `unquote` (kombu) does: a `%` that does not
 * start a valid escape is kept as it is (`50%off` stays `50%off`) instead of throwing URIError.
 */
function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

function takeTlsOptions(query: Map<string, string>, url: string): RedisTlsOptions {
  const reqsText = query.get('ssl_cert_reqs') ?? 'required';
  const certReqs = CERT_REQS[reqsText.toLowerCase()];
  if (!certReqs) {
    throw new ConfigError(`Redis URL option "ssl_cert_reqs" must be required, optional or none (or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE), got ${JSON.stringify(reqsText)} in ${JSON.stringify(mask(url))}`);
  }
  const caFile = query.get('ssl_ca_certs');
  const certFile = query.get('ssl_certfile');
  const keyFile = query.get('ssl_keyfile');
  for (const name of TLS_OPTIONS) query.delete(name);
  return { certReqs, ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) };
}
