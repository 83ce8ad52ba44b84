/**
 * A settle (ack, reject, dead letter) counts only once its write commits. When the write fails the
 * caller's promise rejects with the error and the delivery stays unsettled: its lease is still
 * renewed, its prefetch credit still taken, and the caller may settle it again.
 *
 * Failures are injected from a second connection to the same file: a trigger that aborts the
 * statement (one write fails) or a held write lock (the whole batch fails with SQLITE_BUSY).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { silentLogger, type Delivery } from '@celeriac/core';
import { Inbox, sampleMessage, uniqueQueue } from '@celeriac/testing';
import { SqliteBroker } from '@celeriac/sqlite';
import { tempDir } from './temp-db.js';

const dir = tempDir('failed-settle');
const waits = { timeoutMs: 5000, quietMs: 0 };
const quietMs = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a broker on a new file with `tags` published to one queue and a prefetch-1 consumer. */
async function setUp(file: string, tags: string[], options: { visibilityTimeout?: number; busyTimeout?: number } = {}) {
  const path = join(dir, file);
  const queue = uniqueQueue('settle');
  const broker = new SqliteBroker({ path, logger: silentLogger, ...options });
  await broker.publishMany(tags.map((tag) => ({ message: sampleMessage(tag), options: { queue } })));
  const inbox = new Inbox();
  await broker.consume([queue], inbox.onDelivery, { prefetch: 1 });
  const [first] = await inbox.waitFor(1, waits);
  const db = new Database(path);
  const rows = () => db.prepare('SELECT count(*) FROM celeriac_messages WHERE queue = ?').pluck().get(queue) as number;
  const close = async () => {
    db.close();
    await broker.close();
  };
  return { path, queue, broker, inbox, first: first!, db, rows, close };
}

/** Makes every delete (ack) and every release (reject with requeue) of `queue`'s rows fail. */
function failSettles(db: Database.Database, queue: string): () => void {
  const q = `'${queue.replaceAll("'", "''")}'`;
  db.exec(`CREATE TRIGGER test_fail_ack BEFORE DELETE ON celeriac_messages WHEN OLD.queue = ${q}
             BEGIN SELECT RAISE(ABORT, 'injected: the write failed'); END;
           CREATE TRIGGER test_fail_release BEFORE UPDATE OF lease_owner ON celeriac_messages
             WHEN OLD.queue = ${q} AND NEW.lease_owner IS NULL
             BEGIN SELECT RAISE(ABORT, 'injected: the write failed'); END;`);
  return () => db.exec('DROP TRIGGER test_fail_ack; DROP TRIGGER test_fail_release;');
}

it('a failed ack rejects, keeps the delivery unsettled, and can be retried', async () => {
  const { queue, inbox, first, db, rows, close } = await setUp('ack.db', ['a', 'b']);
  try {
    const heal = failSettles(db, queue);
    await assert.rejects(first.ack(), /injected: the write failed/);
    await sleep(quietMs);
    assert.equal(inbox.received.length, 1, 'the unsettled delivery must keep its prefetch credit');
    assert.equal(rows(), 2);
    heal();
    await first.ack();
    assert.equal(rows(), 1, 'the retried ack must delete the message');
    const [, second] = await inbox.waitFor(2, waits, 'the next message once credit is freed');
    await second!.ack();
    assert.equal(rows(), 0);
  } finally {
    await close();
  }
});

it('a failed reject with requeue can be retried', async () => {
  const { queue, broker, inbox, first, db, close } = await setUp('requeue.db', ['a']);
  try {
    const heal = failSettles(db, queue);
    await assert.rejects(first.reject(true), /injected: the write failed/);
    assert.equal(await broker.size(queue), 0, 'the message is still leased');
    heal();
    await first.reject(true);
    const [, again] = await inbox.waitFor(2, waits, 'the requeued message');
    assert.equal(again!.redelivered, true);
    await again!.ack();
  } finally {
    await close();
  }
});

it('a delivery whose ack failed can still be dead-lettered', async () => {
  const { queue, broker, first, db, rows, close } = await setUp('dead-letter.db', ['a']);
  try {
    const heal = failSettles(db, queue);
    await assert.rejects(first.ack(), /injected/);
    heal();
    await broker.deadLetter(first, { code: 'test', message: 'after a failed ack' });
    assert.deepEqual((await broker.listDeadLetters({ queue })).map((e) => e.reason.message), ['after a failed ack']);
    assert.equal(rows(), 0);
    await assert.rejects(broker.deadLetter(first, { code: 'test', message: 'twice' }), { code: 'CELERIAC_E_STATE' });
  } finally {
    await close();
  }
});

it('a batch that fails as a whole (write lock held) leaves its deliveries unsettled', async () => {
  const { inbox, first, db, rows, close } = await setUp('busy.db', ['a', 'b'], { busyTimeout: 50 });
  try {
    db.exec('BEGIN IMMEDIATE');
    await assert.rejects(first.ack(), { code: 'SQLITE_BUSY' });
    db.exec('COMMIT');
    await sleep(quietMs);
    assert.equal(inbox.received.length, 1, 'the unsettled delivery must keep its prefetch credit');
    await first.ack();
    assert.equal(rows(), 1);
    const [, second] = await inbox.waitFor(2, waits);
    await second!.ack();
    assert.equal(rows(), 0);
  } finally {
    await close();
  }
});

it('the lease of a delivery whose ack failed is still renewed', async () => {
  const { path, queue, first, db, close } = await setUp('renew.db', ['a'], { visibilityTimeout: 0.2 });
  const other = new SqliteBroker({ path, logger: silentLogger });
  try {
    const heal = failSettles(db, queue);
    await assert.rejects(first.ack(), /injected/);
    heal();
    // Several visibility timeouts: a lease nobody renewed would have run out and come back.
    await sleep(800);
    const got: Delivery[] = [];
    const consumer = await other.consume([queue], (d) => got.push(d), { prefetch: 1 });
    await sleep(quietMs);
    await consumer.cancel();
    assert.equal(got.length, 0, 'another consumer took a message whose lease is still held');
    await first.ack();
  } finally {
    await other.close();
    await close();
  }
});

it('a settle that comes while another is on its way waits for it', async () => {
  const { queue, broker, first, rows, close } = await setUp('concurrent.db', ['a']);
  try {
    const acking = first.ack();
    const late = broker.deadLetter(first, { code: 'test', message: 'too late' });
    await acking;
    await assert.rejects(late, (err: Error & { code?: string }) => err.code === 'CELERIAC_E_STATE' && /already acknowledged/.test(err.message));
    await first.ack(); // a second ack is a no-op
    assert.equal(rows(), 0);
    assert.deepEqual(await broker.listDeadLetters({ queue }), []);
  } finally {
    await close();
  }
});
