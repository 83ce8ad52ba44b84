/**
 * Saved groups and chord counting in memory, for the memory backend. Each call does its work
 * without awaiting in between, so in one process it is atomic: exactly one `addPart()` sees a
 * chord complete. Expiry follows the SQLite backend: null, undefined and 0 mean never; a chord has
 * one expiry for its size and parts, set by `setSize()` and renewed by `addPart()` with `expiresIn`.
 */
import { ConfigError } from '../errors.js';
import { isResultTuple, type ChordPart, type ChordPartInput, type ChordPartOutcome, type ChordStore, type GroupStore, type ResultTuple } from './groups-and-chords.js';
import type { SetResultOptions } from './result-backend.js';

function expiresAt(expiresIn: number | null | undefined, what: string): number | null {
  if (expiresIn === null || expiresIn === undefined || expiresIn === 0) return null;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0) {
    throw new ConfigError(`${what} option "expiresIn" must be a non-negative number of seconds or null, got ${JSON.stringify(expiresIn)}`);
  }
  return Date.now() + Math.max(1, Math.ceil(expiresIn * 1000));
}

const live = (entry: { expiresAt: number | null } | undefined): boolean => entry !== undefined && (entry.expiresAt === null || entry.expiresAt > Date.now());

export class MemoryGroupStore implements GroupStore {
  private readonly saved = new Map<string, { json: string; expiresAt: number | null }>();

  async saveGroup(groupId: string, result: ResultTuple, options: SetResultOptions = {}): Promise<void> {
    if (!isResultTuple(result)) throw new ConfigError(`saveGroup() needs a result tuple [[group_id, parent | null], [child tuples…]], got ${String(JSON.stringify(result))}`);
    this.saved.set(groupId, { json: JSON.stringify(result), expiresAt: expiresAt(options.expiresIn, 'saveGroup()') });
  }

  async restoreGroup(groupId: string): Promise<ResultTuple | null> {
    const entry = this.saved.get(groupId);
    if (!live(entry)) {
      this.saved.delete(groupId);
      return null;
    }
    // Stored as JSON so callers never share (or mutate) the stored tuple.
    return JSON.parse(entry!.json) as ResultTuple;
  }

  async deleteGroup(groupId: string): Promise<void> {
    this.saved.delete(groupId);
  }
}

interface Chord {
  size: number | null;
  adjustment: number;
  expiresAt: number | null;
  /** By task id, in arrival order (a Map keeps insertion order). */
  parts: Map<string, { index: number | null; json: string }>;
}

export class MemoryChordStore implements ChordStore {
  private readonly chords = new Map<string, Chord>();

  async setSize(groupId: string, size: number, options: SetResultOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new ConfigError(`chord size must be a non-negative integer, got ${JSON.stringify(size)}`);
    const chord = this.chord(groupId);
    chord.size = size;
    chord.expiresAt = expiresAt(options.expiresIn, 'setSize()');
  }

  async adjustSize(groupId: string, by = 1): Promise<void> {
    if (!Number.isSafeInteger(by)) throw new ConfigError(`adjustSize() "by" must be an integer, got ${JSON.stringify(by)}`);
    this.chord(groupId).adjustment += by;
  }

  async addPart(part: ChordPartInput, options: SetResultOptions = {}): Promise<ChordPartOutcome> {
    const index = part.groupIndex ?? null;
    if (index !== null && (typeof index !== 'number' || !Number.isFinite(index))) {
      throw new ConfigError(`addPart() "groupIndex" must be a number or null, got ${JSON.stringify(index)}`);
    }
    const expires = expiresAt(options.expiresIn, 'addPart()');
    const json = JSON.stringify([part.taskId, part.state, part.result ?? null]);
    const chord = this.chord(part.groupId);
    if (expires !== null) chord.expiresAt = expires;
    // A repeated part (a redelivered task) is not counted twice.
    if (!chord.parts.has(part.taskId)) chord.parts.set(part.taskId, { index, json });
    const count = chord.parts.size;
    const total = chord.size === null ? null : chord.size + chord.adjustment;
    if (total === null || count !== total) return { complete: false, count, total, parts: [], results: [] };
    this.chords.delete(part.groupId);
    const ordered = [...chord.parts.values()].map((p, arrival) => ({ ...p, arrival }));
    // Group-index order; parts without one last, in arrival order.
    ordered.sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity) || a.arrival - b.arrival);
    const parts = ordered.map(({ json: text }): ChordPart => {
      const [taskId, state, result] = JSON.parse(text) as [string, string, unknown];
      return { taskId, state, result };
    });
    return { complete: true, count, total, parts, results: parts.map((p) => p.result) };
  }

  /** The live chord for `groupId`, made empty when there is none or it expired. */
  private chord(groupId: string): Chord {
    let chord = this.chords.get(groupId);
    if (!chord || !live(chord)) {
      chord = { size: null, adjustment: 0, expiresAt: null, parts: new Map() };
      this.chords.set(groupId, chord);
    }
    return chord;
  }
}
