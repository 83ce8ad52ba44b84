/**
 * Opening a celeriac SQLite file: WAL journal (readers never block the writer, and commits need no
 * fsync of the main file), `synchronous = NORMAL` (durable across a process crash; a power loss
 * may lose the last commits, never corrupt the file), a busy timeout so processes queue for the
 * write lock instead of failing, and the schema.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '@celeriac/core';
import { SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';

export type SqliteDatabase = Database.Database;

export function openDatabase(path: string, busyTimeoutMs: number): SqliteDatabase {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    // Switching to WAL needs a moment alone with the file; the busy timeout covers a race with
    // another process opening it at the same time. The mode is stored in the file, so this is a
    // no-op after the first open.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Keep the WAL file from staying large after a burst (bytes).
    db.pragma('journal_size_limit = 67108864');
    migrate(db, path);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: SqliteDatabase, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) {
    throw new ConfigError(`${path} has celeriac schema version ${version}; this celeriac knows up to ${SCHEMA_VERSION}: upgrade @celeriac/sqlite`);
  }
  // An older file (or a new one, version 0) gets whatever tables it lacks: the script is all
  // IF NOT EXISTS, so it is also safe when another process upgrades the file at the same time.
  db.transaction(() => {
    db.exec(SCHEMA_SQL);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
