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
import { BadMessageError, ConfigError, type ChordPart, type ChordPartInput, type ChordPartOutcome, type ChordStore, type SetResultOptions } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { ChordKeySuffix, type ResultKeys } from './result-keys.js';
import { ADD_CHORD_PART, STORE_AND_PUBLISH, ttlMs } from './result-scripts.js';

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
      [encoded, index === null ? '+inf' : index, expires, part.taskId],
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
