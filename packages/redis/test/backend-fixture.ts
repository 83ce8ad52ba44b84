/**
 * What the result backend tests share: the Redis they run against, a key prefix of their own, and
 * the cleanup of exactly the keys they made. The shared Redis is never flushed.
 *
 * Redis is `CELERIAC_REDIS_URL` or redis://127.0.0.1:6379/0. When it cannot be reached the tests
 * are skipped with a message, unless `CI` is set: then they fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

export const REDIS_URL = process.env['CELERIAC_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

/** A skip reason when Redis is unreachable (and not under CI); false when the tests can run. */
export async function redisSkipReason(url = REDIS_URL): Promise<string | false> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return false;
  } catch (err) {
    const reason = `Redis at ${url} is unreachable (${(err as Error).message})`;
    if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
    return `${reason}; start one or set CELERIAC_REDIS_URL`;
  } finally {
    client.disconnect();
  }
}

/** A prefix no other test run uses: `celeriac-test:<label>:<uuid>:`. */
export function uniquePrefix(label: string): string {
  return `celeriac-test:${label}:${randomUUID()}:`;
}

/** The URL with a `key_prefix` query option. */
export function withPrefix(url: string, prefix: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}key_prefix=${encodeURIComponent(prefix)}`;
}

/** A plain client for looking at (and cleaning up) what the backend wrote. */
export function rawClient(url = REDIS_URL): Redis {
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', () => {});
  return client;
}

/** Deletes every key under `prefix` (which must contain no glob characters). */
export async function deletePrefixed(client: Redis, prefix: string): Promise<void> {
  if (/[*?[\]\\]/.test(prefix)) throw new Error(`prefix ${prefix} contains glob characters`);
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.del(...keys);
  } while (cursor !== '0');
}

/** A redis-server of our own (for tests that disconnect clients), stopped by `stop()`. */
export interface ScratchRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** The skip reason instead, when no redis-server binary is installed and CI is unset. */
export async function startScratchRedis(): Promise<ScratchRedis | string> {
  if (spawnSync('redis-server', ['--version']).error) {
    const reason = 'redis-server is not installed (needed for a scratch server)';
    if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure`);
    return reason;
  }
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}/0`;
  const probe = new Redis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  probe.on('error', () => {});
  try {
    await probe.ping();
  } finally {
    probe.disconnect();
  }
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

