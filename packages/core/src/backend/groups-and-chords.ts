/**
 * What a result backend offers beyond task results, for the canvas: saved group results (Celery's
 * `GroupResult.save()` / `restore()` / `delete()`) and chord counting (Celery's `set_chord_size`,
 * `add_to_chord` and the counting half of `on_chord_part_return`). Both are optional parts of a
 * backend ({@link ResultBackend.groups}, {@link ResultBackend.chords}); a backend without chord
 * counting cannot hold chords, and applying one on it fails with a clear error.
 *
 * Every implementation runs the chord and group cases of the conformance suite in `@celeriac/testing`.
 */
import type { TaskState } from '../protocol/result-meta.js';
import type { SetResultOptions } from './result-backend.js';

/**
 * A result tuple, Celery's `as_tuple()`: `[[task_id, parent_tuple | null], null]` for a task,
 * `[[group_id, parent_tuple | null], [child tuples…]]` for a group. Used in saved groups and in
 * the `children` of a task's meta.
 */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

export function isResultTuple(value: unknown): value is ResultTuple {
  if (!Array.isArray(value) || value.length !== 2) return false;
  const [head, children] = value as unknown[];
  if (!Array.isArray(head) || head.length !== 2 || typeof head[0] !== 'string') return false;
  if (head[1] !== null && !isResultTuple(head[1])) return false;
  return children === null || (Array.isArray(children) && children.every(isResultTuple));
}

/** Saved group results (Celery's `save_group` / `restore_group` / `delete_group`). */
export interface GroupStore {
  /** Stores the group's result tuple under its id (its first element's id should be `groupId`). */
  saveGroup(groupId: string, result: ResultTuple, options?: SetResultOptions): Promise<void>;
  /** The saved tuple, or null when none is stored (or it expired, or is unreadable). */
  restoreGroup(groupId: string): Promise<ResultTuple | null>;
  deleteGroup(groupId: string): Promise<void>;
}

/** A finished header task, as its worker reports it to the chord. */
export interface ChordPartInput {
  readonly groupId: string;
  readonly taskId: string;
  /**
   * The task's position in the chord header (the `group_index` message header). Parts are
   * returned in this order; a part without one sorts last, as in Celery.
   */
  readonly groupIndex?: number | null;
  readonly state: TaskState;
  /** The result as stored in the task's meta: the value, or the serialized exception. */
  readonly result: unknown;
}

/** A part read back from the chord. */
export interface ChordPart {
  readonly taskId: string;
  readonly state: TaskState;
  readonly result: unknown;
}

export interface ChordPartOutcome {
  /** This call completed the chord: its caller applies the body (and nobody else will). */
  readonly complete: boolean;
  /** Parts recorded so far, this one included. */
  readonly count: number;
  /** Parts expected (size + adjustment), or null when no size is stored (yet, or any more). */
  readonly total: number | null;
  /** When complete, every part in group-index order; otherwise empty. */
  readonly parts: readonly ChordPart[];
  /** When complete, the parts' results in order: the body's argument. Otherwise empty. */
  readonly results: readonly unknown[];
}

/**
 * Chord counting. The chord is complete when it holds size + adjustment parts; exactly one
 * `addPart()` call sees it complete, however parts race across processes, and the bookkeeping is
 * removed then. Deciding what a failed part means for the body, and applying the body, belong to
 * the caller.
 */
export interface ChordStore {
  /** Records the header's size when the chord is applied. */
  setSize(groupId: string, size: number, options?: SetResultOptions): Promise<void>;
  /** Expects `by` more parts (Celery's `add_to_chord`, used when a header task is replaced). */
  adjustSize(groupId: string, by?: number): Promise<void>;
  /** Records a finished part; reports whether it completed the chord, and then all parts. */
  addPart(part: ChordPartInput, options?: SetResultOptions): Promise<ChordPartOutcome>;
}
