/**
 * The embedded SQLite result backend: results in a table of the same file the broker uses (or
 * another), readable by every process on the machine and kept across restarts.
 *
 * URL:  `sqlite://` (./celeriac.db), `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
 *       with query options `?poll_interval=50&busy_timeout=5000` (`visibility_timeout` is accepted
 *       and ignored, so one URL can serve as broker and backend).
 * Capabilities: persistent, shared between processes.
 * Options: see {@link SqliteOptions} — path, pollInterval (ms, default 50), busyTimeout (ms,
 *       default 5000), logger.
 *
 * Writes issued in one tick share a transaction (write-batcher.ts); `set()` resolves after its
 * commit. A stored SUCCESS is never replaced. Expired entries are invisible at once and deleted by
 * a sweep every minute. `watch()` wakes on this process's commits and, through a file watch on the
 * `-wal` file, on other processes' commits; a check of SQLite's `data_version` every poll interval
 * backs the file watch up where the file system does not report changes.
 *
 * Groups and chords: `groups` saves group results (sqlite-groups.ts) and `chords` counts chord
 * parts (sqlite-chords.ts), atomically across the processes sharing the file.
 */
import {
  ClosedError,
  ConfigError,
  consoleLogger,
  decodeResultMeta,
  Lifecycle,
  type BackendCapabilities,
  type ChordStore,
  type GroupStore,
  type Logger,
  type ResultBackend,
  type ResultWatch,
  type ResultMeta,
  type SetResultOptions,
} from '@celeriac/core';
import { ResultStore } from './result-store.js';
import { ChordTables, SqliteChordStore } from './sqlite-chords.js';
import { GroupTables, SqliteGroupStore } from './sqlite-groups.js';
import { resolveSqliteOptions, type ResolvedSqliteOptions, type SqliteOptions } from './sqlite-options.js';
import { SqliteStore } from './sqlite-store.js';

export type SqliteBackendState = 'new' | 'open' | 'closed';

const TRANSITIONS: Readonly<Record<SqliteBackendState, readonly SqliteBackendState[]>> = {
  new: ['open', 'closed'],
  open: ['closed'],
  closed: [],
};

interface Connection {
  readonly store: SqliteStore;
  readonly batcher: SqliteStore['batcher'];
  readonly results: ResultStore;
  readonly groups: GroupTables;
  readonly chords: ChordTables;
  readonly stopListening: () => void;
}

/** How often expired results are deleted from the file. */
const SWEEP_INTERVAL_MS = 60_000;

export class SqliteBackend implements ResultBackend {
  readonly capabilities: BackendCapabilities = { persistent: true, shared: true };
  readonly options: ResolvedSqliteOptions;
  /** Saved group results, in `celeriac_groups`. */
  readonly groups: GroupStore;
  /** Chord counting, in `celeriac_chords` and `celeriac_chord_parts`. */
  readonly chords: ChordStore;
  private readonly logger: Logger;
  private readonly lifecycle: Lifecycle<SqliteBackendState>;
  private conn: Connection | null = null;
  /** Pending watch() calls; each is resolved (and removed) by the next wake-up. */
  private readonly watchers = new Set<() => void>();
  private pollTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private dataVersion = 0;

  constructor(options: SqliteOptions) {
    this.options = resolveSqliteOptions(options);
    this.logger = options.logger ?? consoleLogger('warn');
    this.lifecycle = new Lifecycle(`sqlite backend ${this.options.path}`, 'new', TRANSITIONS, this.logger);
    this.groups = new SqliteGroupStore(() => this.open(), this.logger);
    this.chords = new SqliteChordStore(() => this.open());
  }

  get state(): SqliteBackendState {
    return this.lifecycle.state;
  }

  async connect(): Promise<void> {
    this.open();
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    return this.read(this.open().results, taskId, Date.now());
  }

  async getMany(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    const { store, results } = this.open();
    const now = Date.now();
    // One read transaction: a consistent snapshot, and one lock acquisition for the lot.
    return store.db.transaction(() => taskIds.map((id) => this.read(results, id, now)))();
  }

  async set(taskId: string, meta: ResultMeta, options: SetResultOptions = {}): Promise<void> {
    const expiresIn = options.expiresIn ?? null;
    if (expiresIn !== null && (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn))) {
      throw new ConfigError(`set() option "expiresIn" must be a number of seconds or null, got ${JSON.stringify(expiresIn)}`);
    }
    if (typeof meta?.status !== 'string') throw new ConfigError(`result metadata needs a string "status", got ${JSON.stringify(meta?.status)}`);
    const json = JSON.stringify(meta);
    const { store, results } = this.open();
    await store.batcher.add(() => {
      const now = Date.now();
      results.upsert(taskId, meta.status, json, expiresIn === null ? null : now + expiresIn * 1000, now);
    });
  }

  async delete(taskId: string): Promise<void> {
    const { store, results } = this.open();
    await store.batcher.add(() => results.delete(taskId));
  }

  watch(_taskId: string): ResultWatch {
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      if (this.lifecycle.is('closed')) return resolve();
      this.open();
      wake = () => {
        if (!this.watchers.delete(wake)) return;
        if (this.watchers.size === 0) this.stopPolling();
        resolve();
      };
      this.watchers.add(wake);
      this.startPolling();
    });
    return { woken, stop: () => wake() };
  }

  async close(): Promise<void> {
    if (this.lifecycle.is('closed')) return;
    const conn = this.conn;
    this.lifecycle.set('closed');
    this.wakeAll();
    this.stopPolling();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.conn = null;
    if (conn) {
      conn.stopListening();
      conn.store.close();
    }
  }

  private read(results: ResultStore, taskId: string, now: number): ResultMeta | null {
    const text = results.get(taskId, now);
    if (text === undefined) return null;
    try {
      return decodeResultMeta(taskId, JSON.parse(text));
    } catch (err) {
      this.logger.warn('sqlite backend: stored result is not valid JSON; treating it as missing', { taskId, error: err });
      return null;
    }
  }

  private wakeAll(): void {
    for (const wake of [...this.watchers]) wake();
  }

  /**
   * While anyone watches, check every poll interval whether another connection committed (SQLite
   * bumps `data_version` then): the fallback when the file watch reports nothing.
   */
  private startPolling(): void {
    if (this.pollTimer || !this.conn) return;
    const { db } = this.conn.store;
    this.dataVersion = db.pragma('data_version', { simple: true }) as number;
    this.pollTimer = setInterval(() => {
      const version = db.pragma('data_version', { simple: true }) as number;
      if (version === this.dataVersion) return;
      this.dataVersion = version;
      this.wakeAll();
    }, this.options.pollIntervalMs);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private open(): Connection {
    if (this.lifecycle.is('closed')) throw new ClosedError(`the SQLite result backend on ${this.options.path}`);
    if (!this.conn) {
      const store = SqliteStore.open(this.options);
      const results = new ResultStore(store.db);
      const stopListening = store.signal.listen(() => this.wakeAll());
      this.conn = { store, batcher: store.batcher, results, groups: new GroupTables(store.db), chords: new ChordTables(store.db), stopListening };
      this.sweep();
      this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.sweepTimer.unref();
      this.lifecycle.set('open');
    }
    return this.conn;
  }

  private sweep(): void {
    if (!this.conn) return;
    const { store, results, groups, chords } = this.conn;
    const purge = () => {
      const now = Date.now();
      results.purgeExpired(now);
      groups.purgeExpired(now);
      chords.purgeExpired(now);
    };
    store.batcher.add(purge).catch((err: unknown) => {
      this.logger.warn('sqlite backend: deleting expired results, groups and chords failed', { error: err });
    });
  }
}
