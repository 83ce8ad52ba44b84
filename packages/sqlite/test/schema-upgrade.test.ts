/**
 * The schema version in `PRAGMA user_version`: a file of version 1 (before groups and chords) is
 * upgraded in place when opened, keeping what it holds; a file of a newer version is refused.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, silentLogger } from '@celeriac/core';
import { sampleMeta } from '@celeriac/testing';
import { SqliteBackend } from '@celeriac/sqlite';
import { tempDir } from './temp-db.js';

const dir = tempDir('schema');
const V2_TABLES = ['celeriac_chord_parts', 'celeriac_chords', 'celeriac_groups'];

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'celeriac_%' ORDER BY name`).pluck().all() as string[];
  } finally {
    db.close();
  }
}

it('a version 1 file gains the group and chord tables and keeps its results', async () => {
  const path = join(dir, 'v1.db');
  const writer = new SqliteBackend({ path, logger: silentLogger });
  await writer.set('kept', sampleMeta('kept'));
  await writer.close();
  // Make it a version 1 file: the tables version 2 added are not there yet.
  const db = new Database(path);
  for (const table of V2_TABLES) db.exec(`DROP TABLE ${table}`);
  db.pragma('user_version = 1');
  db.close();
  assert.deepEqual(tables(path), ['celeriac_dead_letters', 'celeriac_messages', 'celeriac_results']);

  const backend = new SqliteBackend({ path, logger: silentLogger });
  try {
    assert.equal((await backend.get('kept'))?.status, 'SUCCESS');
    await backend.chords.setSize('g', 1);
    assert.deepEqual((await backend.chords.addPart({ groupId: 'g', taskId: 't', groupIndex: 0, state: 'SUCCESS', result: 7 })).results, [7]);
    await backend.groups.saveGroup('g', [['g', null], []]);
    assert.deepEqual(await backend.groups.restoreGroup('g'), [['g', null], []]);
  } finally {
    await backend.close();
  }
  assert.deepEqual(tables(path), ['celeriac_chord_parts', 'celeriac_chords', 'celeriac_dead_letters', 'celeriac_groups', 'celeriac_messages', 'celeriac_results']);
  const check = new Database(path, { readonly: true });
  assert.equal(check.pragma('user_version', { simple: true }), 2);
  check.close();
});

it('a file of a newer schema version is refused, not misread', async () => {
  const path = join(dir, 'future.db');
  const db = new Database(path);
  db.pragma('user_version = 99');
  db.close();
  const backend = new SqliteBackend({ path, logger: silentLogger });
  await assert.rejects(backend.connect(), (err: Error) => err instanceof ConfigError && /schema version 99; this celeriac knows up to 2/.test(err.message));
  await backend.close();
});
