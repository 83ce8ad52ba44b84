/**
 * Chord bookkeeping in Celery 5.2's Redis layout (`result_chord_ordered=True`, the 5.x default),
 * so celeriac and Python workers can finish each other's chords:
 *
 * - `celery-taskset-meta-<gid>.s` — the chord's size, SETEX + PUBLISH by the client applying it;
 * - `celery-taskset-meta-<gid>.j` — zset of finished header parts `[1, task_id, state, result]`,
 *   scored by the part's group index (`+inf` when it has none);
 * - `celery-taskset-meta-<gid>.t` — an adjustment to the expected count (INCR, when a header task
 *   is replaced); usually absent, which means 0.
 *
 * The chord is complete when the zset holds size + adjustment parts. Celery counts in a pipeline
 * and reads and deletes in two more round trips; here one script does all of it, so exactly one
 * part sees the chord complete even when parts finish at the same moment on different workers.
 */
import { BadMessageError, ConfigError, type SetResultOptions, type TaskState } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { ChordKeySuffix, type ResultKeys } from './result-keys.js';
import { ADD_CHORD_PART, STORE_AND_PUBLISH, ttlMs } from './result-scripts.js';

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
 * Chord counting on a result backend (Celery's `set_chord_size`, `add_to_chord` and the counting
 * half of `on_chord_part_return`). Deciding what a failed part means for the body, and applying
 * the body, belong to the caller.
 */
export interface ChordStore {
  /** Records the header's size when the chord is applied. */
  setSize(groupId: string, size: number, options?: SetResultOptions): Promise<void>;
  /** Expects `by` more parts (Celery's `add_to_chord`, used when a header task is replaced). */
  adjustSize(groupId: string, by?: number): Promise<void>;
  /** Records a finished part; reports whether it completed the chord, and then all parts. */
  addPart(part: ChordPartInput, options?: SetResultOptions): Promise<ChordPartOutcome>;
}

export class RedisChordStore implements ChordStore {
  constructor(
    private readonly client: () => Redis,
    private readonly keys: ResultKeys,
  ) {}

  async setSize(groupId: string, size: number, options: SetResultOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new ConfigError(`chord size must be a non-negative integer, got ${JSON.stringify(size)}`);
    const ttl = ttlMs(options.expiresIn, 'setSize()');
    await STORE_AND_PUBLISH.run(this.client(), [this.keys.group(groupId, ChordKeySuffix.SIZE)], [String(size), ttl, '0']);
  }

  async adjustSize(groupId: string, by = 1): Promise<void> {
    if (!Number.isSafeInteger(by)) throw new ConfigError(`adjustSize() "by" must be an integer, got ${JSON.stringify(by)}`);
    await this.client().incrby(this.keys.group(groupId, ChordKeySuffix.TOTAL_DIFF), by);
  }

  async addPart(part: ChordPartInput, options: SetResultOptions = {}): Promise<ChordPartOutcome> {
    const index = part.groupIndex ?? null;
    if (index !== null && !Number.isFinite(index)) throw new ConfigError(`addPart() "groupIndex" must be a number or null, got ${JSON.stringify(index)}`);
    // EXPIRE takes whole seconds.
    const expires = Math.ceil(ttlMs(options.expiresIn, 'addPart()') / 1000);
    const encoded = JSON.stringify([1, part.taskId, part.state, part.result ?? null]);
    const reply = await ADD_CHORD_PART.run(
      this.client(),
      [ChordKeySuffix.JOINED, ChordKeySuffix.TOTAL_DIFF, ChordKeySuffix.SIZE].map((s) => this.keys.group(part.groupId, s)),
      [encoded, index === null ? '+inf' : index, expires],
    );
    return decodeOutcome(part.groupId, reply);
  }
}

function decodeOutcome(groupId: string, reply: unknown): ChordPartOutcome {
  if (!Array.isArray(reply) || reply.length !== 5) throw new BadMessageError('chord-reply', `unexpected reply from the chord script for ${groupId}: ${String(reply)}`);
  const [count, size, diff, complete, members] = reply as [number, string, number, number, unknown];
  const total = size === '' ? null : Number(size) + Number(diff);
  if (complete !== 1) return { complete: false, count: Number(count), total, parts: [], results: [] };
  const parts = (members as string[]).map((member) => decodePart(groupId, member));
  return { complete: true, count: Number(count), total, parts, results: parts.map((p) => p.result) };
}

function decodePart(groupId: string, member: string): ChordPart {
  let value: unknown;
  try {
    value = JSON.parse(member);
  } catch (cause) {
    throw new BadMessageError('chord-part-not-json', `a part of chord ${groupId} is not JSON: ${member.slice(0, 200)}`, { cause });
  }
  if (!Array.isArray(value) || value.length !== 4 || typeof value[1] !== 'string' || typeof value[2] !== 'string') {
    throw new BadMessageError('chord-part-malformed', `a part of chord ${groupId} is not [1, task_id, state, result]: ${member.slice(0, 200)}`);
  }
  return { taskId: value[1], state: value[2], result: value[3] };
}
