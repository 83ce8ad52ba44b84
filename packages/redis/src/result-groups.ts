/**
 * Group results as Celery's key-value backends save them (`GroupResult.save()` / `restore()` /
 * `delete()`): `celery-taskset-meta-<gid>` = `{"result": <group result tuple>}`, written with
 * SETEX (SET without expiry) and PUBLISHed on the key's channel, like any Celery backend write.
 * Celery does not guard these keys against overwriting, and neither does this.
 */
import { ConfigError, type Logger, type SetResultOptions } from '@celeriac/core';
import type { Redis } from 'ioredis';
import type { ResultKeys } from './result-keys.js';
import { STORE_AND_PUBLISH, ttlMs } from './result-scripts.js';

/**
 * A result tuple, Celery's `as_tuple()`: `[[task_id, parent_tuple | null], null]` for a task,
 * `[[group_id, parent_tuple | null], [child tuples…]]` for a group. Used in group meta and in the
 * `children` of a task's meta.
 */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

/** What a backend that can save groups offers (Celery's `save_group` / `restore_group` / `delete_group`). */
export interface GroupStore {
  /** Stores the group's result tuple under its id (its first element's id should be `groupId`). */
  saveGroup(groupId: string, result: ResultTuple, options?: SetResultOptions): Promise<void>;
  /** The saved tuple, or null when none is stored (or it expired, or is unreadable). */
  restoreGroup(groupId: string): Promise<ResultTuple | null>;
  deleteGroup(groupId: string): Promise<void>;
}

export function isResultTuple(value: unknown): value is ResultTuple {
  if (!Array.isArray(value) || value.length !== 2) return false;
  const [head, children] = value as unknown[];
  if (!Array.isArray(head) || head.length !== 2 || typeof head[0] !== 'string') return false;
  if (head[1] !== null && !isResultTuple(head[1])) return false;
  return children === null || (Array.isArray(children) && children.every(isResultTuple));
}

export class RedisGroupStore implements GroupStore {
  constructor(
    private readonly client: () => Redis,
    private readonly keys: ResultKeys,
    private readonly logger: Logger,
  ) {}

  async saveGroup(groupId: string, result: ResultTuple, options: SetResultOptions = {}): Promise<void> {
    if (!isResultTuple(result)) {
      throw new ConfigError(`saveGroup() needs a result tuple [[group_id, parent | null], [child tuples…]], got ${safeJson(result)}`);
    }
    const ttl = ttlMs(options.expiresIn, 'saveGroup()');
    await STORE_AND_PUBLISH.run(this.client(), [this.keys.group(groupId)], [JSON.stringify({ result }), ttl, '0']);
  }

  async restoreGroup(groupId: string): Promise<ResultTuple | null> {
    const text = await this.client().get(this.keys.group(groupId));
    if (text === null) return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.logger.warn('redis backend: saved group is not valid JSON; treating it as missing', { groupId, error });
      return null;
    }
    const result = typeof value === 'object' && value !== null ? (value as { result?: unknown }).result : undefined;
    if (!isResultTuple(result)) {
      this.logger.warn('redis backend: saved group has no result tuple; treating it as missing', { groupId });
      return null;
    }
    return result;
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.client().del(this.keys.group(groupId));
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
