/**
 * Group results as Celery's key-value backends save them (`GroupResult.save()` / `restore()` /
 * `delete()`): `celery-taskset-meta-<gid>` = `{"result": <group result tuple>}`, written with
 * SETEX (SET without expiry) and PUBLISHed on the key's channel, like any Celery backend write.
 * Celery does not guard these keys against overwriting, and neither does this.
 */
import { ConfigError, isResultTuple, type GroupStore, type Logger, type ResultTuple, type SetResultOptions } from '@celeriac/core';
import type { Redis } from 'ioredis';
import type { ResultKeys } from './result-keys.js';
import { STORE_AND_PUBLISH, ttlMs } from './result-scripts.js';

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
