/**
 * The names of the result backend's keys, exactly as Celery's key-value backends build them
 * (celery/backends/base.py `get_key_for_task` / `get_key_for_group`), behind an optional prefix
 * that plays the part of kombu's `global_keyprefix`. A task's Pub/Sub channel is its key's name.
 */

export const TASK_KEY_PREFIX = 'celery-task-meta-';
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';

/** Suffixes of a chord's bookkeeping keys, next to its group key. */
export const ChordKeySuffix = {
  /** zset of finished header parts, scored by group index. */
  JOINED: '.j',
  /** Adjustment to the expected count (INCR when a header task is replaced); usually absent. */
  TOTAL_DIFF: '.t',
  /** The chord's size, set when the chord is applied. */
  SIZE: '.s',
} as const;

export class ResultKeys {
  /** @param prefix prepended to every key and channel; `''` for Celery's plain names. */
  constructor(readonly prefix: string) {}

  /** `celery-task-meta-<id>`: the meta key, and the channel its writes are published on. */
  task(taskId: string): string {
    return `${this.prefix}${TASK_KEY_PREFIX}${taskId}`;
  }

  /** `celery-taskset-meta-<gid>` plus an optional suffix (see {@link ChordKeySuffix}). */
  group(groupId: string, suffix = ''): string {
    return `${this.prefix}${GROUP_KEY_PREFIX}${groupId}${suffix}`;
  }
}
