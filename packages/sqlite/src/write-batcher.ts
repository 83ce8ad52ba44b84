/**
 * Coalesces small writes (acks, result writes) issued in the same tick into one transaction.
 *
 * SQLite's cost is per transaction, not per row: a commit takes the file's write lock and appends
 * to the WAL. A worker finishing 5,000 tasks a second would otherwise commit 10,000 times; batched,
 * it commits a few hundred times. Each caller's promise resolves after the commit that holds its
 * write, so "acked" still means "durable".
 *
 * If the batch fails as a whole, each write is retried in its own transaction, so one bad write
 * (a constraint, a value SQLite refuses) fails only its own caller.
 */
import type { SqliteDatabase } from './sqlite-connection.js';

interface PendingWrite {
  run: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class WriteBatcher {
  private pending: PendingWrite[] = [];
  private scheduled: NodeJS.Immediate | null = null;

  /** `afterCommit` runs after every commit that wrote something (used to wake local listeners). */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly afterCommit: () => void = () => {},
  ) {}

  /** Queues `run` (synchronous statements) for the next batch; resolves once it is committed. */
  add(run: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ run, resolve, reject });
      // setImmediate runs after the current tick's I/O callbacks and microtasks, so every write
      // issued while handling one batch of deliveries lands in the same transaction.
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits whatever is pending now (also called on close, before the connection goes). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    try {
      this.db.transaction(() => {
        for (const w of batch) w.run();
      }).immediate();
    } catch (err) {
      if (affectsEveryWrite(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      for (const w of batch) this.runAlone(w);
      this.afterCommit();
      return;
    }
    this.afterCommit();
    for (const w of batch) w.resolve();
  }

  /** Fails every pending write (the connection is going away without a chance to commit). */
  abandon(err: unknown): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    for (const w of this.pending.splice(0)) w.reject(err);
  }

  private runAlone(w: PendingWrite): void {
    try {
      this.db.transaction(w.run).immediate();
      w.resolve();
    } catch (err) {
      w.reject(err);
    }
  }
}

/**
 * Errors of the connection or the file (lock timeout, disk full, I/O, read-only, closed), as
 * opposed to one statement's data: retrying writes one by one would only repeat them, slowly.
 */
function affectsEveryWrite(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CORRUPT|NOTADB|CANTOPEN|NOMEM|PROTOCOL)/.test(code);
}
