/**
 * Saved group results in SQLite (`celeriac_groups`): the group's result tuple as JSON, with an
 * optional expiry. Saving again replaces, as in Celery. Writes go through the write batcher, so a
 * save issued with the tick's result writes commits with them; expired rows are invisible at once
 * and deleted by the backend's sweep.
 */
import { ConfigError, isResultTuple, type GroupStore, type Logger, type ResultTuple, type SetResultOptions } from '@celeriac/core';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-connection.js';
import { expiresAt, keepMs } from './sqlite-expiry.js';
import type { WriteBatcher } from './write-batcher.js';

/** What a group store needs from the backend's (lazily opened) connection. */
export interface GroupConnection {
  readonly batcher: WriteBatcher;
  readonly groups: GroupTables;
}

export class SqliteGroupStore implements GroupStore {
  constructor(
    private readonly connection: () => GroupConnection,
    private readonly logger: Logger,
  ) {}

  async saveGroup(groupId: string, result: ResultTuple, options: SetResultOptions = {}): Promise<void> {
    if (!isResultTuple(result)) {
      throw new ConfigError(`saveGroup() needs a result tuple [[group_id, parent | null], [child tuples…]], got ${safeJson(result)}`);
    }
    const keep = keepMs(options.expiresIn, 'saveGroup()');
    const json = JSON.stringify(result);
    const { batcher, groups } = this.connection();
    await batcher.add(() => groups.save(groupId, json, expiresAt(keep, Date.now())));
  }

  async restoreGroup(groupId: string): Promise<ResultTuple | null> {
    const text = this.connection().groups.get(groupId, Date.now());
    if (text === undefined) return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.logger.warn('sqlite backend: saved group is not valid JSON; treating it as missing', { groupId, error });
      return null;
    }
    if (!isResultTuple(value)) {
      this.logger.warn('sqlite backend: saved group is not a result tuple; treating it as missing', { groupId });
      return null;
    }
    return value;
  }

  async deleteGroup(groupId: string): Promise<void> {
    const { batcher, groups } = this.connection();
    await batcher.add(() => groups.delete(groupId));
  }
}

/** The prepared statements on `celeriac_groups`. */
export class GroupTables {
  private readonly saveStmt: Statement;
  private readonly getStmt: Statement;
  private readonly deleteStmt: Statement;
  private readonly purgeExpiredStmt: Statement;

  constructor(db: SqliteDatabase) {
    this.saveStmt = db.prepare(
      `INSERT INTO celeriac_groups (group_id, result, expires_at) VALUES (@group_id, @result, @expires_at)
       ON CONFLICT (group_id) DO UPDATE SET result = excluded.result, expires_at = excluded.expires_at`,
    );
    this.getStmt = db.prepare(`SELECT result FROM celeriac_groups WHERE group_id = ? AND (expires_at IS NULL OR expires_at > ?)`).pluck();
    this.deleteStmt = db.prepare(`DELETE FROM celeriac_groups WHERE group_id = ?`);
    this.purgeExpiredStmt = db.prepare(`DELETE FROM celeriac_groups WHERE expires_at IS NOT NULL AND expires_at <= ?`);
  }

  save(groupId: string, result: string, expiresAt: number | null): void {
    this.saveStmt.run({ group_id: groupId, result, expires_at: expiresAt });
  }

  /** The stored JSON text, or undefined when there is none or it expired. */
  get(groupId: string, now: number): string | undefined {
    return this.getStmt.get(groupId, now) as string | undefined;
  }

  delete(groupId: string): void {
    this.deleteStmt.run(groupId);
  }

  /** Deletes expired rows; returns how many. */
  purgeExpired(now: number): number {
    return this.purgeExpiredStmt.run(now).changes;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
