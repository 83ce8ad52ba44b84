/**
 * Rows that cannot be read (written by another tool, or damaged) never crash a consumer: they are
 * dead-lettered with their raw text and the messages around them are delivered as usual. A
 * damaged result reads as missing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { silentLogger } from '@celeriac/core';
import { Inbox, sampleMessage, sampleMeta } from '@celeriac/testing';
import { SqliteBackend, SqliteBroker } from '@celeriac/sqlite';
import { tempDir } from './temp-db.js';

const dir = tempDir('malformed');

it('a message row with unreadable JSON is dead-lettered with its raw text', async () => {
  const path = join(dir, 'rows.db');
  const broker = new SqliteBroker({ path, logger: silentLogger });
  try {
    await broker.publish(sampleMessage('before'), { queue: 'q' });
    const db = new Database(path);
    db.prepare(
      `INSERT INTO celeriac_messages (queue, priority, state, headers, properties, body, content_type, content_encoding, published_at)
       VALUES ('q', 0, 0, '{"task": "broken', '{}', 'body text', 'application/json', 'utf-8', 0)`,
    ).run();
    db.prepare(
      `INSERT INTO celeriac_messages (queue, priority, state, headers, properties, body, content_type, content_encoding, published_at)
       VALUES ('q', 0, 0, '[1, 2]', '{}', 'body text', 'application/json', 'utf-8', 0)`,
    ).run();
    db.close();
    await broker.publish(sampleMessage('after'), { queue: 'q' });

    const inbox = new Inbox();
    const consumer = await broker.consume(['q'], inbox.onDelivery, { prefetch: 10 });
    const got = await inbox.waitFor(2, { timeoutMs: 5000, quietMs: 0 });
    await consumer.cancel();
    assert.deepEqual(got.map((d) => d.message.headers['tag']), ['before', 'after']);
    for (const d of got) await inbox.ack(d);

    const entries = await broker.listDeadLetters({ queue: 'q' });
    assert.equal(entries.length, 2);
    for (const entry of entries) {
      assert.equal(entry.reason.code, 'bad-message:row-not-json');
      assert.equal(entry.message, null);
      assert.match(entry.raw ?? '', /body text/);
      assert.equal(await broker.replayDeadLetter(entry.id), false, 'an unreadable message cannot be replayed');
      assert.equal(await broker.deleteDeadLetter(entry.id), true);
    }
    assert.match(entries[0]!.raw!, /\{\\"task\\": \\"broken/);
    assert.equal(await broker.size('q'), 0);
  } finally {
    await broker.close();
  }
});

it('a result row with unreadable JSON reads as missing', async () => {
  const path = join(dir, 'results.db');
  const backend = new SqliteBackend({ path, logger: silentLogger });
  try {
    await backend.set('good', sampleMeta('good'));
    const db = new Database(path);
    db.prepare(`INSERT INTO celeriac_results (task_id, status, meta, updated_at) VALUES ('bad', 'SUCCESS', '{not json', 0)`).run();
    db.close();
    assert.deepEqual(await backend.getMany(['bad', 'good']), [null, sampleMeta('good')]);
  } finally {
    await backend.close();
  }
});
