/**
 * Chord counting in SQLite (`celeriac_chords` + `celeriac_chord_parts`, see sqlite-schema.ts).
 *
 * Every call is a few statements run in one write transaction: it goes through the write batcher,
 * whose transactions are `BEGIN IMMEDIATE`, so the file's write lock is held from the first read
 * to the commit. Processes sharing the file therefore count one at a time: the part that brings
 * the count to size + adjustment is the only one that reads the chord complete, and it deletes the
 * bookkeeping in the same transaction. A batch that fails is retried write by write, each in its
 * own transaction (write-batcher.ts); a rolled-back attempt leaves nothing behind, so the retry
 * counts afresh.
 *
 * Expiry: one instant per chord, for its row and all its parts. `setSize()` sets it (none without
 * `expiresIn`), `addPart()` with `expiresIn` renews it (as Celery's Redis backend renews its three
 * keys), `adjustSize()` leaves it. An expired chord is gone at once: the next call on its group
 * id starts from nothing, and the sweep deletes it.
 */
import { BadMessageError, ConfigError, type ChordPart, type ChordPartInput, type ChordPartOutcome, type ChordStore, type SetResultOptions } from '@celeriac/core';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-connection.js';
import type { WriteBatcher } from './write-batcher.js';
import { expiresAt, keepMs } from './sqlite-expiry.js';

/** What a chord store needs from the backend's (lazily opened) connection. */
export interface ChordConnection {
  readonly batcher: WriteBatcher;
  readonly chords: ChordTables;
}

export class SqliteChordStore implements ChordStore {
  constructor(private readonly connection: () => ChordConnection) {}

  async setSize(groupId: string, size: number, options: SetResultOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new ConfigError(`chord size must be a non-negative integer, got ${JSON.stringify(size)}`);
    const keep = keepMs(options.expiresIn, 'setSize()');
    const { batcher, chords } = this.connection();
    await batcher.add(() => {
      const now = Date.now();
      chords.setSize(groupId, size, expiresAt(keep, now), now);
    });
  }

  async adjustSize(groupId: string, by = 1): Promise<void> {
    if (!Number.isSafeInteger(by)) throw new ConfigError(`adjustSize() "by" must be an integer, got ${JSON.stringify(by)}`);
    const { batcher, chords } = this.connection();
    await batcher.add(() => chords.adjustSize(groupId, by, Date.now()));
  }

  async addPart(part: ChordPartInput, options: SetResultOptions = {}): Promise<ChordPartOutcome> {
    const index = part.groupIndex ?? null;
    if (index !== null && (typeof index !== 'number' || !Number.isFinite(index))) {
      throw new ConfigError(`addPart() "groupIndex" must be a number or null, got ${JSON.stringify(index)}`);
    }
    if (typeof part.state !== 'string') throw new ConfigError(`addPart() "state" must be a string, got ${JSON.stringify(part.state)}`);
    const keep = keepMs(options.expiresIn, 'addPart()');
    const result = JSON.stringify(part.result ?? null);
    const { batcher, chords } = this.connection();
    let counted: CountedPart | undefined;
    // Taken from the attempt that committed (a failed batch is run again write by write).
    await batcher.add(() => {
      const now = Date.now();
      counted = chords.addPart({ groupId: part.groupId, taskId: part.taskId, index, state: part.state, result }, expiresAt(keep, now), now);
    });
    if (!counted) throw new Error(`chord part ${part.taskId} of ${part.groupId} was committed without an outcome`);
    const { count, total, rows } = counted;
    if (rows === null) return { complete: false, count, total, parts: [], results: [] };
    // Decoded after the commit, as the Redis backend does: an unreadable part (only a hand-edited
    // file has one) fails this call, and the chord's bookkeeping is gone either way.
    const parts = rows.map((row) => decodePart(part.groupId, row));
    return { complete: true, count, total, parts, results: parts.map((p) => p.result) };
  }
}

/** What counting a part found: the parts' rows when it completed the chord, else null. */
interface CountedPart {
  readonly count: number;
  readonly total: number | null;
  readonly rows: readonly PartRow[] | null;
}

interface PartRow {
  task_id: string;
  state: string;
  result: string;
}

interface ChordRow {
  size: number | null;
  adjustment: number;
  parts: number;
}

/** The prepared statements; each method runs inside the caller's write transaction. */
export class ChordTables {
  private readonly dropPartsIfExpired: Statement;
  private readonly dropChordIfExpired: Statement;
  private readonly upsertSize: Statement;
  private readonly upsertAdjustment: Statement;
  private readonly insertPart: Statement;
  private readonly countPart: Statement;
  private readonly readParts: Statement;
  private readonly deleteParts: Statement;
  private readonly deleteChord: Statement;
  private readonly purgeParts: Statement;
  private readonly purgeChords: Statement;

  constructor(db: SqliteDatabase) {
    const expired = `expires_at IS NOT NULL AND expires_at <= @now`;
    this.dropPartsIfExpired = db.prepare(
      `DELETE FROM celeriac_chord_parts WHERE group_id = @group_id
          AND EXISTS (SELECT 1 FROM celeriac_chords WHERE group_id = @group_id AND ${expired})`,
    );
    this.dropChordIfExpired = db.prepare(`DELETE FROM celeriac_chords WHERE group_id = @group_id AND ${expired}`);
    this.upsertSize = db.prepare(
      `INSERT INTO celeriac_chords (group_id, size, expires_at) VALUES (@group_id, @size, @expires_at)
       ON CONFLICT (group_id) DO UPDATE SET size = excluded.size, expires_at = excluded.expires_at`,
    );
    this.upsertAdjustment = db.prepare(
      `INSERT INTO celeriac_chords (group_id, adjustment) VALUES (@group_id, @by)
       ON CONFLICT (group_id) DO UPDATE SET adjustment = adjustment + excluded.adjustment`,
    );
    this.insertPart = db.prepare(
      `INSERT INTO celeriac_chord_parts (group_id, task_id, group_index, state, result)
       VALUES (@group_id, @task_id, @group_index, @state, @result)
       ON CONFLICT (group_id, task_id) DO NOTHING`,
    );
    // The chord's running count, by the part just inserted (0 for a repeated one), with what it is
    // compared against: no count(*) of the parts per part.
    this.countPart = db.prepare(
      `INSERT INTO celeriac_chords (group_id, parts, expires_at) VALUES (@group_id, @added, @expires_at)
       ON CONFLICT (group_id) DO UPDATE SET parts = parts + excluded.parts, expires_at = coalesce(excluded.expires_at, expires_at)
       RETURNING size, adjustment, parts`,
    );
    // Group-index order; parts without one last, in arrival order (seq).
    this.readParts = db.prepare(
      `SELECT task_id, state, result FROM celeriac_chord_parts WHERE group_id = ?
        ORDER BY group_index IS NULL, group_index, seq`,
    );
    this.deleteParts = db.prepare(`DELETE FROM celeriac_chord_parts WHERE group_id = ?`);
    this.deleteChord = db.prepare(`DELETE FROM celeriac_chords WHERE group_id = ?`);
    this.purgeParts = db.prepare(
      `DELETE FROM celeriac_chord_parts WHERE group_id IN (SELECT group_id FROM celeriac_chords WHERE ${expired})`,
    );
    this.purgeChords = db.prepare(`DELETE FROM celeriac_chords WHERE ${expired}`);
  }

  setSize(groupId: string, size: number, expiresAt: number | null, now: number): void {
    this.forgetIfExpired(groupId, now);
    this.upsertSize.run({ group_id: groupId, size, expires_at: expiresAt });
  }

  adjustSize(groupId: string, by: number, now: number): void {
    this.forgetIfExpired(groupId, now);
    this.upsertAdjustment.run({ group_id: groupId, by });
  }

  addPart(
    part: { groupId: string; taskId: string; index: number | null; state: string; result: string },
    expiresAt: number | null,
    now: number,
  ): CountedPart {
    const { groupId } = part;
    this.forgetIfExpired(groupId, now);
    const { changes } = this.insertPart.run({ group_id: groupId, task_id: part.taskId, group_index: part.index, state: part.state, result: part.result });
    const chord = this.countPart.get({ group_id: groupId, added: changes, expires_at: expiresAt }) as ChordRow;
    const count = chord.parts;
    const total = chord.size === null ? null : chord.size + chord.adjustment;
    if (total === null || count !== total) return { count, total, rows: null };
    const rows = this.readParts.all(groupId) as PartRow[];
    this.deleteParts.run(groupId);
    this.deleteChord.run(groupId);
    return { count, total, rows };
  }

  /** Deletes expired chords and their parts; returns how many chords. */
  purgeExpired(now: number): number {
    this.purgeParts.run({ now });
    return this.purgeChords.run({ now }).changes;
  }

  private forgetIfExpired(groupId: string, now: number): void {
    this.dropPartsIfExpired.run({ group_id: groupId, now });
    this.dropChordIfExpired.run({ group_id: groupId, now });
  }
}

function decodePart(groupId: string, row: PartRow): ChordPart {
  let result: unknown;
  try {
    result = JSON.parse(row.result);
  } catch (cause) {
    throw new BadMessageError('chord-part-not-json', `the result of part ${row.task_id} of chord ${groupId} is not JSON: ${row.result.slice(0, 200)}`, { cause });
  }
  return { taskId: row.task_id, state: row.state, result };
}
