/**
 * The statements on `celeriac_results`: one row per task id holding its metadata as JSON, the
 * status in its own column (so the "never replace SUCCESS" rule is one upsert), and an optional
 * expiry instant. Expired rows are invisible to reads and deleted now and then.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-connection.js';

export class ResultStore {
  private readonly upsertStmt: Statement;
  private readonly getStmt: Statement;
  private readonly deleteStmt: Statement;
  private readonly purgeExpiredStmt: Statement;

  constructor(db: SqliteDatabase) {
    // A stored SUCCESS is final (Celery's guard against a redelivered task turning a success into
    // a failure) unless it has expired, in which case it no longer exists as far as readers know.
    this.upsertStmt = db.prepare(
      `INSERT INTO celeriac_results (task_id, status, meta, expires_at, updated_at)
       VALUES (@task_id, @status, @meta, @expires_at, @now)
       ON CONFLICT (task_id) DO UPDATE
          SET status = excluded.status, meta = excluded.meta,
              expires_at = excluded.expires_at, updated_at = excluded.updated_at
        WHERE celeriac_results.status <> 'SUCCESS'
           OR (celeriac_results.expires_at IS NOT NULL AND celeriac_results.expires_at <= excluded.updated_at)`,
    );
    this.getStmt = db.prepare(`SELECT meta FROM celeriac_results WHERE task_id = ? AND (expires_at IS NULL OR expires_at > ?)`).pluck();
    this.deleteStmt = db.prepare(`DELETE FROM celeriac_results WHERE task_id = ?`);
    this.purgeExpiredStmt = db.prepare(`DELETE FROM celeriac_results WHERE expires_at IS NOT NULL AND expires_at <= ?`);
  }

  /** Stores `meta` (JSON text) unless a live SUCCESS is already there. `expiresAt` in epoch ms or null. */
  upsert(taskId: string, status: string, meta: string, expiresAt: number | null, now: number): void {
    this.upsertStmt.run({ task_id: taskId, status, meta, expires_at: expiresAt, now });
  }

  /** The stored JSON text, or undefined when there is none or it expired. */
  get(taskId: string, now: number): string | undefined {
    return this.getStmt.get(taskId, now) as string | undefined;
  }

  delete(taskId: string): void {
    this.deleteStmt.run(taskId);
  }

  /** Deletes expired rows; returns how many. */
  purgeExpired(now: number): number {
    return this.purgeExpiredStmt.run(now).changes;
  }
}
