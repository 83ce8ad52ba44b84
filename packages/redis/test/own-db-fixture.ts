/**
 * What the tests that need a whole database of the shared Redis use (the shared-lane,
 * result-expect and notify-expect tests): a db number no other test file or the bench uses (test files use db 0
 * under key prefixes, the bench 10-14 by default, its smoke test 2-5), emptied before and after (FLUSHDB of that db only);
 * MONITOR lines of that db, with the address of the client that sent each command; and CLIENT LIST
 * rows of that db, so a test can kill its own connections (by CLIENT ID) and no one else's; and a
 * core Worker run in this process for the length of a test.
 *
 * Taken by: shared-lane.test.ts 6 and 7, result-expect.test.ts 8, notify-expect.test.ts 9.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type App, silentLogger, Worker, type WorkerOptions } from '@celeriac/core';
import { RedisBackend, type RedisBackendOptions } from '@celeriac/redis';
import { Redis } from 'ioredis';
import { REDIS_URL } from './backend-fixture.js';
import { monitor, type MonitorLine } from './monitor-fixture.js';

/** REDIS_URL's server with database `db`. */
export function dbUrl(db: number, base = REDIS_URL): string {
  const url = new URL(base);
  url.pathname = `/${db}`;
  return url.toString();
}

/** A plain client on `db`, for looking, killing our own clients and cleaning up. */
export function dbClient(db: number, base = REDIS_URL): Redis {
  const client = new Redis(dbUrl(db, base), { lazyConnect: true });
  client.on('error', () => {});
  return client;
}

/** Empties `db`, which must be one this file owns (see the header). */
export async function flushOwnDb(client: Redis, db: number): Promise<void> {
  if (![6, 7, 8, 9].includes(db)) throw new Error(`db ${db} is not one of the test files' own (6, 7, 8, 9)`);
  if ((await client.client('INFO')).match(/ db=(\d+) /)?.[1] !== String(db)) throw new Error(`the client is not on db ${db}`);
  await client.flushdb();
}

export type { MonitorLine };

/** Every command Redis runs on one of `dbs`, as MONITOR reports it. */
export function monitorDbs(dbs: readonly number[], base = REDIS_URL): Promise<{ readonly lines: MonitorLine[]; stop(): void }> {
  return monitor((line) => dbs.includes(line.db), base);
}

/** MONITOR's stream is read apart from the clients under test: let it catch up. */
export const settle = (ms = 200): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ClientRow {
  readonly id: string;
  readonly addr: string;
  readonly name: string;
  readonly db: number;
  readonly flags: string;
  readonly cmd: string;
}

/** CLIENT LIST rows of the clients on `db`. */
export async function clientsOn(client: Redis, db: number): Promise<ClientRow[]> {
  const text = (await client.client('LIST')) as string;
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => Object.fromEntries(line.trim().split(' ').map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)])))
    .map((f) => ({ id: f['id']!, addr: f['addr']!, name: f['name'] ?? '', db: Number(f['db']), flags: f['flags'] ?? '', cmd: f['cmd'] ?? '' }))
    .filter((row) => row.db === db);
}

/** Runs `fn` with a Worker of `app` running in this process; then stops both. */
export async function withWorker<T>(app: App, options: WorkerOptions, fn: () => Promise<T>): Promise<T> {
  await app.connect();
  const worker = Worker.create(app, options);
  const running = worker.run();
  try {
    return await fn();
  } finally {
    // Bounded: a result write that never settles holds a warm shutdown for ever; the test has
    // already failed then, and closing the app releases its connections.
    await Promise.race([worker.shutdown().then(() => running), sleep(15_000, undefined, { ref: false })]);
    await app.close();
  }
}

/**
 * For a `describe` on its own `db`: empties it before and after, and opens RedisBackends on it
 * (with `defaults` under each call's options) that are closed after each test. `raw()` is a plain
 * client on the db, valid from the suite's start.
 */
export function ownDbBackends(db: number, defaults: Omit<RedisBackendOptions, 'url'> = {}): {
  raw(): Redis;
  open(options?: Omit<RedisBackendOptions, 'url'>, url?: string): RedisBackend;
} {
  let client: Redis | null = null;
  const opened: RedisBackend[] = [];
  before(async () => {
    client = dbClient(db);
    await flushOwnDb(client, db);
  });
  afterEach(async () => {
    for (const b of opened.splice(0)) await b.close();
  });
  after(async () => {
    if (!client) return;
    await flushOwnDb(client, db);
    client.disconnect();
  });
  return {
    raw: () => client ?? assert.fail('the suite has not started'),
    open: (options = {}, url = dbUrl(db)) => {
      const backend = new RedisBackend({ url, logger: silentLogger, ...defaults, ...options });
      opened.push(backend);
      return backend;
    },
  };
}
