/**
 * What the SQLite chord and group stores do beyond the conformance suite: parts without a group
 * index keep their arrival order, an unreadable saved group reads as missing, expired chords and
 * groups are deleted from the file by the sweep, and bad arguments are refused before anything is
 * written.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, silentLogger, type Logger, type ResultTuple } from '@celeriac/core';
import { SqliteBackend } from '@celeriac/sqlite';
import { tempDir } from './temp-db.js';

const dir = tempDir('chords');

function rows(path: string, table: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

it('parts without a group index come last, in the order they arrived', async () => {
  const backend = new SqliteBackend({ path: join(dir, 'order.db'), logger: silentLogger });
  try {
    await backend.chords.setSize('g', 5);
    const add = (taskId: string, groupIndex?: number | null) => backend.chords.addPart({ groupId: 'g', taskId, groupIndex, state: 'SUCCESS', result: taskId });
    await add('late-c', null);
    await add('second', 1);
    await add('late-a'); // groupIndex left out
    await add('first', 0);
    assert.deepEqual((await add('late-b', null)).results, ['first', 'second', 'late-c', 'late-a', 'late-b']);
  } finally {
    await backend.close();
  }
});

it('an unreadable saved group reads as missing, with a warning', async () => {
  const path = join(dir, 'unreadable.db');
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (message) => void warnings.push(message) };
  const backend = new SqliteBackend({ path, logger });
  try {
    await backend.groups.saveGroup('ok', [['ok', null], []]);
    const db = new Database(path);
    db.prepare(`INSERT INTO celeriac_groups (group_id, result) VALUES ('not-json', '[[')`).run();
    db.prepare(`INSERT INTO celeriac_groups (group_id, result) VALUES ('not-tuple', '{"result": 1}')`).run();
    db.close();
    assert.equal(await backend.groups.restoreGroup('not-json'), null);
    assert.equal(await backend.groups.restoreGroup('not-tuple'), null);
    assert.equal(warnings.length, 2);
    assert.deepEqual(await backend.groups.restoreGroup('ok'), [['ok', null], []]);
  } finally {
    await backend.close();
  }
});

it('the sweep deletes expired chords, their parts and expired groups from the file', async () => {
  const path = join(dir, 'sweep.db');
  const writer = new SqliteBackend({ path, logger: silentLogger });
  await writer.chords.setSize('short', 3, { expiresIn: 0.2 });
  await writer.chords.addPart({ groupId: 'short', taskId: 't', groupIndex: 0, state: 'SUCCESS', result: 1 }, { expiresIn: 0.2 });
  await writer.chords.setSize('kept', 3);
  await writer.chords.addPart({ groupId: 'kept', taskId: 't', groupIndex: 0, state: 'SUCCESS', result: 1 });
  await writer.groups.saveGroup('short', [['short', null], []], { expiresIn: 0.2 });
  await writer.groups.saveGroup('kept', [['kept', null], []]);
  await writer.close();
  assert.deepEqual([rows(path, 'celeriac_chords'), rows(path, 'celeriac_chord_parts'), rows(path, 'celeriac_groups')], [2, 2, 2]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Opening a backend sweeps once; close() commits the sweep.
  const sweeper = new SqliteBackend({ path, logger: silentLogger });
  await sweeper.connect();
  await sweeper.close();
  assert.deepEqual([rows(path, 'celeriac_chords'), rows(path, 'celeriac_chord_parts'), rows(path, 'celeriac_groups')], [1, 1, 1]);
});

it('bad arguments are refused before anything is written', async () => {
  const path = join(dir, 'refused.db');
  const backend = new SqliteBackend({ path, logger: silentLogger });
  try {
    const part = { groupId: 'g', taskId: 't', state: 'SUCCESS', result: null };
    await assert.rejects(backend.chords.setSize('g', 1.5), ConfigError);
    await assert.rejects(backend.chords.setSize('g', 1, { expiresIn: Number.NaN }), ConfigError);
    await assert.rejects(backend.chords.adjustSize('g', Number.POSITIVE_INFINITY), ConfigError);
    await assert.rejects(backend.chords.addPart({ ...part, groupIndex: Number.NaN }), ConfigError);
    await assert.rejects(backend.chords.addPart(part, { expiresIn: -5 }), ConfigError);
    await assert.rejects(backend.groups.saveGroup('g', { result: [] } as unknown as ResultTuple), ConfigError);
    await backend.connect();
  } finally {
    await backend.close();
  }
  assert.deepEqual([rows(path, 'celeriac_chords'), rows(path, 'celeriac_chord_parts'), rows(path, 'celeriac_groups')], [0, 0, 0]);
});
