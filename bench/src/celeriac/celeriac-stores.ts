/**
 * The stores celeriac is measured on. Each gives a fresh, empty store per scenario, says where the
 * worker runs, and describes what its figures include.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '@celeriac/core';
import type { Traits } from '../contestant.js';
import type { RedisServer } from '../redis-db.js';
import { inProcessWorker, spawnWorker, type WorkerHandle } from './worker-handle.js';

export interface CeleriacStore {
  readonly name: string;
  readonly traits: Traits;
  /** A fresh, empty store for one scenario: its URL, and how to remove it afterwards. */
  create(): Promise<FreshStore>;
  /** A connected worker on `url` (in a child process or on `app` itself), not consuming yet. */
  worker(url: string, app: App, concurrency: number): Promise<WorkerHandle>;
  /** The server the store lives on, whose CPU a round trip costs too (none: embedded). */
  readonly server?: RedisServer;
}

export interface FreshStore {
  readonly url: string;
  dispose(): Promise<void>;
}

export interface SqliteStoreOptions {
  /** Directory where each worker process writes a V8 CPU profile (for finding what is slow). */
  readonly cpuProfileDir?: string;
}

/** Temp directories not yet removed, removed on an early exit (an error, Ctrl-C) too. */
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** One SQLite file in the OS temp directory per scenario, holding the queue and the results. */
export function sqliteStore(options: SqliteStoreOptions = {}): CeleriacStore {
  return {
    name: 'celeriac-sqlite',
    traits: {
      store: 'SQLite file (broker + results), default URL options',
      resultsStored: 'yes',
      durability: 'WAL, synchronous=NORMAL (survives a process crash)',
      acks: 'early',
      worker: 'separate process',
    },
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-'));
      tempDirs.add(dir);
      const dispose = async () => {
        rmSync(dir, { recursive: true, force: true });
        tempDirs.delete(dir);
      };
      // Four slashes: an absolute path (tmpdir() is absolute).
      return { url: `sqlite:///${join(dir, 'bench.db')}`, dispose };
    },
    worker: (url, _app, concurrency) => spawnWorker(url, concurrency, options.cpuProfileDir),
  };
}

/** The in-memory broker and backend: nothing to create, and only this process can reach them. */
export function memoryStore(): CeleriacStore {
  return {
    name: 'celeriac-memory',
    traits: {
      store: 'memory:// broker + backend',
      resultsStored: 'yes',
      durability: 'none',
      acks: 'early',
      worker: 'same process (memory:// cannot be shared)',
    },
    create: async () => ({ url: 'memory://', dispose: async () => {} }),
    worker: async (_url, app, concurrency) => inProcessWorker(app, concurrency),
  };
}
