/**
 * The statements on `celeriac_messages`, prepared once per connection. Each method is synchronous
 * and runs in whatever transaction the caller holds (or its own, when it is one statement).
 * See sqlite-schema.ts for the row states.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-connection.js';
import type { MessageColumns, MessageRow } from './message-row.js';
import { MessageState } from './sqlite-schema.js';

const { READY, DELAYED, LEASED } = MessageState;
const ROW_COLUMNS = 'id, queue, priority, redelivered, headers, properties, body, content_type, content_encoding';

export interface NewMessage extends MessageColumns {
  queue: string;
  priority: number;
  /** Epoch ms before which the message is not delivered, or null. */
  notBefore: number | null;
}

export class MessageStore {
  private readonly insertStmt: Statement;
  private readonly promoteStmt: Statement;
  private readonly takeStmt: Statement;
  private readonly ackStmt: Statement;
  private readonly releaseStmt: Statement;
  private readonly renewStmt: Statement;
  private readonly unleaseStmt: Statement;
  private readonly purgeReadyStmt: Statement;
  private readonly purgeDelayedStmt: Statement;
  private readonly sizeStmt: Statement;
  private readonly deleteStmt: Statement;
  private readonly readyStmt: Statement;
  private readonly dueStmt: Statement;

  constructor(db: SqliteDatabase) {
    this.insertStmt = db.prepare(
      `INSERT INTO celeriac_messages (queue, priority, state, due_at, headers, properties, body, content_type, content_encoding, published_at)
       VALUES (@queue, @priority, @state, @due_at, @headers, @properties, @body, @content_type, @content_encoding, @published_at)`,
    );
    // A lease that ran out means its consumer died (live consumers renew theirs): the message is
    // ready again and marked redelivered. A delayed message that came due is simply ready.
    this.promoteStmt = db.prepare(
      `UPDATE celeriac_messages
          SET redelivered = CASE WHEN state = ${LEASED} THEN 1 ELSE redelivered END,
              state = ${READY}, due_at = NULL, lease_owner = NULL
        WHERE state <> ${READY} AND due_at <= ?`,
    );
    // One statement picks and leases a batch, so two consumers can never take the same row.
    this.takeStmt = db.prepare(
      `UPDATE celeriac_messages SET state = ${LEASED}, lease_owner = @owner, due_at = @lease_until
        WHERE id IN (SELECT id FROM celeriac_messages WHERE state = ${READY} AND queue = @queue
                      ORDER BY priority DESC, id LIMIT @limit)
       RETURNING ${ROW_COLUMNS}`,
    );
    this.ackStmt = db.prepare(`DELETE FROM celeriac_messages WHERE id = ? AND lease_owner = ?`);
    this.releaseStmt = db.prepare(
      `UPDATE celeriac_messages SET state = ${READY}, due_at = NULL, lease_owner = NULL, redelivered = 1
        WHERE id = ? AND lease_owner = ?`,
    );
    this.unleaseStmt = db.prepare(
      `UPDATE celeriac_messages SET state = ${READY}, due_at = NULL, lease_owner = NULL WHERE id = ? AND lease_owner = ?`,
    );
    this.renewStmt = db.prepare(`UPDATE celeriac_messages SET due_at = ? WHERE id = ? AND lease_owner = ? AND state = ${LEASED}`);
    // Two statements so each can use an index (`state <> READY` is what the due index covers).
    this.purgeReadyStmt = db.prepare(`DELETE FROM celeriac_messages WHERE state = ${READY} AND queue = ?`);
    this.purgeDelayedStmt = db.prepare(`DELETE FROM celeriac_messages WHERE state <> ${READY} AND state = ${DELAYED} AND queue = ?`);
    this.sizeStmt = db.prepare(
      `SELECT (SELECT count(*) FROM celeriac_messages WHERE queue = @queue AND state = ${READY})
            + (SELECT count(*) FROM celeriac_messages WHERE state <> ${READY} AND state = ${DELAYED} AND queue = @queue) AS n`,
    ).pluck();
    this.deleteStmt = db.prepare(`DELETE FROM celeriac_messages WHERE id = ?`);
    this.readyStmt = db.prepare(`SELECT 1 FROM celeriac_messages WHERE state = ${READY} AND queue = ? LIMIT 1`).pluck();
    this.dueStmt = db.prepare(`SELECT 1 FROM celeriac_messages WHERE state <> ${READY} AND due_at <= ? LIMIT 1`).pluck();
  }

  insert(message: NewMessage, now: number): void {
    const delayed = message.notBefore !== null && message.notBefore > now;
    this.insertStmt.run({
      queue: message.queue,
      priority: message.priority,
      state: delayed ? DELAYED : READY,
      due_at: delayed ? message.notBefore : null,
      headers: message.headers,
      properties: message.properties,
      body: message.body,
      content_type: message.content_type,
      content_encoding: message.content_encoding,
      published_at: now,
    });
  }

  /**
   * Whether a take could find anything: a ready message in one of `queues`, or a delayed message
   * or lease that came due. A read, so idle pollers never queue for the write lock.
   */
  hasWork(queues: readonly string[], now: number): boolean {
    if (this.dueStmt.get(now) !== undefined) return true;
    return queues.some((queue) => this.readyStmt.get(queue) !== undefined);
  }

  /** Makes due delayed messages and expired leases ready; returns how many. */
  promoteDue(now: number): number {
    return this.promoteStmt.run(now).changes;
  }

  /** Leases up to `limit` ready messages of `queue` to `owner`, in delivery order. */
  take(queue: string, limit: number, owner: string, leaseUntil: number): MessageRow[] {
    const rows = this.takeStmt.all({ queue, limit, owner, lease_until: leaseUntil }) as MessageRow[];
    // RETURNING gives rows in no particular order.
    return rows.sort((a, b) => b.priority - a.priority || a.id - b.id);
  }

  /** Deletes a leased message; false when the lease was no longer `owner`'s. */
  ack(id: number, owner: string): boolean {
    return this.ackStmt.run(id, owner).changes > 0;
  }

  /** Puts a leased message back, marked redelivered; false when the lease was no longer `owner`'s. */
  release(id: number, owner: string): boolean {
    return this.releaseStmt.run(id, owner).changes > 0;
  }

  /** Puts back a leased message that was never handed to a caller, leaving `redelivered` as it was. */
  unlease(id: number, owner: string): boolean {
    return this.unleaseStmt.run(id, owner).changes > 0;
  }

  /** Extends `owner`'s lease; false when it lost the lease (it ran out and was taken back). */
  renew(id: number, owner: string, leaseUntil: number): boolean {
    return this.renewStmt.run(leaseUntil, id, owner).changes > 0;
  }

  /**
   * Deletes the waiting (ready and delayed) messages of a queue; leased ones stay with their
   * consumers. Call inside a transaction.
   */
  purge(queue: string): number {
    return this.purgeReadyStmt.run(queue).changes + this.purgeDelayedStmt.run(queue).changes;
  }

  /** Ready plus delayed messages of a queue. */
  size(queue: string): number {
    return this.sizeStmt.get({ queue }) as number;
  }

  delete(id: number): void {
    this.deleteStmt.run(id);
  }
}
