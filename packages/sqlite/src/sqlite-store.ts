/**
 * One open celeriac database, as the broker and the backend use it: the connection, the write
 * batcher whose commits wake this process's listeners, and the file's change signal.
 */
import type { SqliteDatabase } from './sqlite-connection.js';
import { openDatabase } from './sqlite-connection.js';
import { ChangeSignal } from './change-signal.js';
import type { ResolvedSqliteOptions } from './sqlite-options.js';
import { WriteBatcher } from './write-batcher.js';

export class SqliteStore {
  readonly batcher: WriteBatcher;
  private closed = false;

  private constructor(
    readonly db: SqliteDatabase,
    readonly signal: ChangeSignal,
  ) {
    this.batcher = new WriteBatcher(db, () => signal.notify());
  }

  static open(options: ResolvedSqliteOptions): SqliteStore {
    const db = openDatabase(options.path, options.busyTimeoutMs);
    return new SqliteStore(db, ChangeSignal.acquire(options.path));
  }

  /** Runs `fn` in a write transaction (`BEGIN IMMEDIATE`: takes the write lock up front, so a
   * transaction that reads and then writes never fails half-way on a lock upgrade). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Commits pending batched writes, then closes the connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.batcher.flush();
    } finally {
      this.signal.notify();
      this.signal.release();
      this.db.close();
    }
  }
}
