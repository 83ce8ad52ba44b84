/**
 * Restarts: queued messages (ready and delayed), dead letters and results are all still there
 * after every connection closed and the file is opened again.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { silentLogger } from '@celeriac/core';
import { Inbox, sampleMessage, sampleMeta } from '@celeriac/testing';
import { createBackend, createBroker, SqliteBackend, SqliteBroker } from '@celeriac/sqlite';
import { tempDir } from './temp-db.js';

const dir = tempDir('persistence');
const waits = { timeoutMs: 5000, quietMs: 0 };

it('messages, dead letters and results survive closing and reopening the file', async () => {
  const path = join(dir, 'restart.db');
  const broker = new SqliteBroker({ path, logger: silentLogger });
  const backend = new SqliteBackend({ path, logger: silentLogger });
  const messages = ['m0', 'm1', 'm2'].map((tag) => sampleMessage(tag));
  await broker.publishMany(messages.map((message, i) => ({ message, options: { queue: 'keep', priority: 5 - i } })));
  await broker.publish(sampleMessage('later'), { queue: 'keep', notBefore: new Date(Date.now() + 300) });
  await broker.publish(sampleMessage('bad'), { queue: 'poison' });
  const inbox = new Inbox();
  const consumer = await broker.consume(['poison'], inbox.onDelivery, { prefetch: 1 });
  const [bad] = await inbox.waitFor(1, waits);
  await consumer.cancel();
  await broker.deadLetter(bad!, { code: 'test', message: 'kept across restarts' });
  const ids = ['r0', 'r1'];
  await backend.set(ids[0]!, sampleMeta(ids[0]!));
  await backend.set(ids[1]!, sampleMeta(ids[1]!, 'FAILURE', { exc_type: 'ValueError' }));
  await broker.close();
  await backend.close();

  const broker2 = createBroker(`sqlite:///${path}`);
  const backend2 = createBackend(`sqlite:///${path}`);
  try {
    assert.equal(await broker2.size('keep'), 4);
    const again = new Inbox();
    const c2 = await broker2.consume(['keep'], again.onDelivery, { prefetch: 10 });
    const got = await again.waitFor(4, waits);
    await c2.cancel();
    assert.deepEqual(got.slice(0, 3).map((d) => d.message), messages);
    assert.equal(got[3]!.message.headers['tag'], 'later');
    for (const d of got) await again.ack(d);
    const [entry] = await broker2.listDeadLetters({ queue: 'poison' });
    assert.equal(entry?.reason.message, 'kept across restarts');
    assert.deepEqual(await backend2.getMany(ids), [sampleMeta(ids[0]!), sampleMeta(ids[1]!, 'FAILURE', { exc_type: 'ValueError' })]);
  } finally {
    await broker2.close();
    await backend2.close();
  }
});
