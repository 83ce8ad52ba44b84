/**
 * After close(), the broker and backend leave nothing that keeps the process alive (timers, file
 * watchers, connections): a process that used them and closed them exits on its own.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { silentLogger } from '@celeriac/core';
import { SqliteBroker } from '@celeriac/sqlite';
import { exited, startFixture } from './child-processes.js';
import { tempDir } from './temp-db.js';

it('a process exits by itself once its broker and backend are closed', { timeout: 60_000 }, async () => {
  const path = join(tempDir('exit'), 'exit.db');
  const lines: string[] = [];
  const child = startFixture('open-and-close.ts', [path], (line) => lines.push(line));
  child.stdin.end();
  // If something held the process open, this never resolves and the test times out.
  assert.equal(await exited(child), 0);
  assert.deepEqual(lines, ['closed']);
  const broker = new SqliteBroker({ path, logger: silentLogger });
  try {
    assert.equal(await broker.size('exit'), 2, 'close() should give the unacked messages back');
  } finally {
    await broker.close();
  }
});
