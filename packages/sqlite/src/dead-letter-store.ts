/**
 * The statements on `celeriac_dead_letters`: messages set aside with a reason, kept until replayed
 * onto their queue or deleted. A message that could not be read at all is kept as raw text.
 */
import type { Statement } from 'better-sqlite3';
import type { DeadLetterEntry, DeadLetterReason, RawMessage } from '@celeriac/core';
import type { SqliteDatabase } from './sqlite-connection.js';

interface DeadLetterRow {
  id: string;
  queue: string;
  priority: number;
  reason_code: string;
  reason_message: string;
  dead_lettered_at: number;
  message: string | null;
  raw: string | null;
}

export interface NewDeadLetter {
  id: string;
  queue: string;
  priority: number;
  reason: DeadLetterReason;
  at: number;
  message: RawMessage | null;
  raw: string | null;
}

/** A stored entry with the message as it can be republished (null when only raw text was kept). */
export interface StoredDeadLetter {
  entry: DeadLetterEntry;
  priority: number;
}

export class DeadLetterStore {
  private readonly insertStmt: Statement;
  private readonly listAllStmt: Statement;
  private readonly listQueueStmt: Statement;
  private readonly getStmt: Statement;
  private readonly deleteStmt: Statement;

  constructor(db: SqliteDatabase) {
    this.insertStmt = db.prepare(
      `INSERT INTO celeriac_dead_letters (id, queue, priority, reason_code, reason_message, dead_lettered_at, message, raw)
       VALUES (@id, @queue, @priority, @reason_code, @reason_message, @dead_lettered_at, @message, @raw)`,
    );
    this.listAllStmt = db.prepare(`SELECT * FROM celeriac_dead_letters ORDER BY dead_lettered_at, rowid LIMIT ?`);
    this.listQueueStmt = db.prepare(`SELECT * FROM celeriac_dead_letters WHERE queue = ? ORDER BY dead_lettered_at, rowid LIMIT ?`);
    this.getStmt = db.prepare(`SELECT * FROM celeriac_dead_letters WHERE id = ?`);
    this.deleteStmt = db.prepare(`DELETE FROM celeriac_dead_letters WHERE id = ?`);
  }

  insert(d: NewDeadLetter): void {
    this.insertStmt.run({
      id: d.id,
      queue: d.queue,
      priority: d.priority,
      reason_code: d.reason.code,
      reason_message: d.reason.message,
      dead_lettered_at: d.at,
      message: d.message ? JSON.stringify(d.message) : null,
      raw: d.raw,
    });
  }

  /** Oldest first. */
  list(queue: string | undefined, limit: number): DeadLetterEntry[] {
    const rows = (queue === undefined ? this.listAllStmt.all(limit) : this.listQueueStmt.all(queue, limit)) as DeadLetterRow[];
    return rows.map((row) => toStored(row).entry);
  }

  get(id: string): StoredDeadLetter | null {
    const row = this.getStmt.get(id) as DeadLetterRow | undefined;
    return row ? toStored(row) : null;
  }

  delete(id: string): boolean {
    return this.deleteStmt.run(id).changes > 0;
  }
}

function toStored(row: DeadLetterRow): StoredDeadLetter {
  let message: RawMessage | null = null;
  let raw = row.raw;
  if (row.message !== null) {
    try {
      message = JSON.parse(row.message) as RawMessage;
    } catch {
      raw ??= row.message; // damaged after it was stored: show what is there
    }
  }
  return {
    priority: row.priority,
    entry: {
      id: row.id,
      queue: row.queue,
      reason: { code: row.reason_code, message: row.reason_message },
      deadLetteredAt: new Date(row.dead_lettered_at),
      message,
      raw,
    },
  };
}
