/**
 * What the broker tests share: the shared Redis and the prefix helpers of backend-fixture.ts, a
 * broker factory with a key prefix of its own per test (every key, `unacked` included, lives under
 * it), cleanup of exactly those keys, child processes killed by PID, and a throwaway redis-server
 * that keeps its data across a restart (AOF, fsync always).
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger, type RawMessage } from '@celeriac/core';
import { RedisBroker, type RedisBrokerOptions } from '@celeriac/redis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';
import { freePort } from './free-port.js';

export { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix };

/** A test's own key prefix and the brokers made under it; `cleanup()` closes them and deletes its keys. */
export class PrefixScope {
  readonly prefix: string;
  readonly redis = rawClient();
  private readonly brokers: RedisBroker[] = [];

  constructor(label: string, private readonly url = REDIS_URL) {
    this.prefix = uniquePrefix(`broker-${label}`);
  }

  broker(options: Omit<RedisBrokerOptions, 'url'> & { query?: string } = {}): RedisBroker {
    const { query, ...rest } = options;
    const url = withPrefix(this.url, this.prefix) + (query ? `&${query}` : '');
    const broker = new RedisBroker({ logger: silentLogger, ...rest, url });
    this.brokers.push(broker);
    return broker;
  }

  /** A key as the broker names it. */
  key(name: string): string {
    return this.prefix + name;
  }

  async cleanup(): Promise<void> {
    for (const b of this.brokers) await b.close();
    await deletePrefixed(this.redis, this.prefix);
    this.redis.disconnect();
  }
}

/** A Celery-shaped message; `tag` goes into a header and the args. */
export function taskMessage(tag: string, priority?: number): RawMessage {
  const id = `00000000-0000-4000-8000-${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  return {
    headers: { lang: 'js', task: 'broker.test', id, retries: 0, timelimit: [null, null], root_id: id, parent_id: null, tag },
    properties: { correlation_id: id, reply_to: 'reply', delivery_mode: 2, ...(priority === undefined ? {} : { priority }) },
    body: JSON.stringify([[tag], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
  };
}

export function tagOf(message: RawMessage): string {
  return String(message.headers['tag']);
}

// ---------------------------------------------------------------------------------------------
// Child processes

type Child = ChildProcessByStdio<null, Readable, null>;
const children = new Set<Child>();
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
});

/** Starts `test/<script>` under tsx with `args`; `onLine` sees each line it prints. */
export function startChild(script: string, args: readonly string[], onLine: (line: string) => void): Child {
  const path = join(fileURLToPath(new URL('.', import.meta.url)), script);
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  createInterface({ input: child.stdout }).on('line', onLine);
  return child;
}

// ---------------------------------------------------------------------------------------------
// A throwaway Redis that keeps its data across a restart

export interface PersistentRedis {
  readonly port: number;
  readonly url: string;
  /** `redis-cli shutdown` (saves, AOF fsynced), then waits for the process to be gone. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and directory; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it (by the PID in its pid file) and removes its directory. */
  destroy(): Promise<void>;
}

/** The skip reason instead when redis-server is missing and CI is unset. */
export async function persistentRedis(): Promise<PersistentRedis | string> {
  if (spawnSync('redis-server', ['--version']).error) {
    const reason = 'redis-server is not installed (needed for a throwaway server)';
    if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure`);
    return reason;
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-redis-restart-'));
  const pidfile = join(dir, 'redis.pid');
  const readPid = (): number | null => {
    try {
      return Number(readFileSync(pidfile, 'utf8').trim()) || null;
    } catch {
      return null;
    }
  };
  let pid: number | null = null;
  const server: PersistentRedis = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async start() {
      const r = spawnSync('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always',
        '--dir', dir, '--daemonize', 'yes', '--pidfile', pidfile,
      ]);
      if (r.status !== 0) throw new Error(`redis-server did not start: ${r.stderr.toString()}`);
      await until(() => spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() === 'PONG', 'redis-server to answer');
      pid = readPid();
    },
    async shutdown() {
      spawnSync('redis-cli', ['-p', String(port), 'shutdown']);
      await until(() => pid === null || !alive(pid), 'redis-server to exit');
    },
    async destroy() {
      if (pid !== null && alive(pid)) {
        process.kill(pid, 'SIGTERM');
        await until(() => !alive(pid!), 'redis-server to exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Whether process `pid` is still running (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

