/**
 * celeriac on Redis (@celeriac/redis, Celery's own key layout) as a store for the celeriac
 * contestant (../celeriac/celeriac-contestant.ts): the producer app in this process, the worker in
 * a child process (../celeriac/worker-child.ts), both on `redis://host:port/<db>` with the default
 * URL options. Each scenario claims the row's database empty and empties it afterwards
 * (../redis-db.ts).
 */
import type { CeleriacStore } from '../celeriac/celeriac-stores.js';
import { spawnWorker } from '../celeriac/worker-handle.js';
import { claimEmptyDb, redisDbUrl, type RedisTarget } from '../redis-db.js';

export interface RedisStoreOptions {
  /** Directory where each worker process writes a V8 CPU profile (for finding what is slow). */
  readonly cpuProfileDir?: string;
}

export function redisStore(target: RedisTarget, options: RedisStoreOptions = {}): CeleriacStore {
  return {
    name: 'celeriac-redis',
    traits: {
      store: `celeriac on Redis (db ${target.db}), broker + result backend, default URL options`,
      resultsStored: 'yes (celery-task-meta-<id>, extended metadata)',
      durability: target.durability,
      acks: 'early (Celery default)',
      worker: 'separate process',
    },
    async create() {
      const { release } = await claimEmptyDb(target);
      return { url: redisDbUrl(target), dispose: release };
    },
    worker: (url, _app, concurrency) => spawnWorker(url, concurrency, options.cpuProfileDir),
    server: { host: target.host, port: target.port },
  };
}
