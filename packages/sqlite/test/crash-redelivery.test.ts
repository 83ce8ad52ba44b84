/**
 * Leases: a consumer process killed before acking loses its messages to another consumer once the
 * visibility timeout passes (marked redelivered); a live consumer keeps its leases however long it
 * holds them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { silentLogger } from '@celeriac/core';
import { Inbox, sampleMessage, uniqueQueue } from '@celeriac/testing';
import { SqliteBroker } from '@celeriac/sqlite';
import { exited, startFixture } from './child-processes.js';
import { tempDir } from './temp-db.js';

const dir = tempDir('crash');
const waits = { timeoutMs: 10_000, quietMs: 0 };

it('messages of a consumer killed with SIGKILL are redelivered after the visibility timeout', { timeout: 60_000 }, async () => {
  const path = join(dir, 'crash.db');
  const broker = new SqliteBroker({ path, visibilityTimeout: 1, logger: silentLogger });
  try {
    const tags = ['a', 'b', 'c', 'd', 'e'];
    await broker.publishMany(tags.map((tag) => ({ message: sampleMessage(tag), options: { queue: 'crash' } })));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const child = startFixture('crashing-consumer.ts', [path, String(tags.length)], (line) => line === 'held' && held());
    await holding;
    assert.equal(await broker.size('crash'), 0, 'the child should hold every message');
    process.kill(child.pid!, 'SIGKILL');
    await exited(child);

    const inbox = new Inbox();
    const consumer = await broker.consume(['crash'], inbox.onDelivery, { prefetch: 10 });
    const got = await inbox.waitFor(tags.length, waits, 'the dead consumer\'s messages');
    await consumer.cancel();
    assert.deepEqual(got.map((d) => d.message.headers['tag']).sort(), tags);
    for (const d of got) assert.equal(d.redelivered, true);
    for (const d of got) await inbox.ack(d);
    assert.equal(await broker.size('crash'), 0);
  } finally {
    await broker.close();
  }
});

it('a live consumer renews its leases: nothing is redelivered while it holds messages', { timeout: 30_000 }, async () => {
  const path = join(dir, 'renew.db');
  const queue = uniqueQueue('renew');
  const holder = new SqliteBroker({ path, visibilityTimeout: 0.4, logger: silentLogger });
  const other = new SqliteBroker({ path, visibilityTimeout: 0.4, logger: silentLogger });
  try {
    await holder.publishMany(['x', 'y'].map((tag) => ({ message: sampleMessage(tag), options: { queue } })));
    const held = new Inbox();
    const c1 = await holder.consume([queue], held.onDelivery, { prefetch: 2 });
    await held.waitFor(2, waits);
    const stolen = new Inbox();
    const c2 = await other.consume([queue], stolen.onDelivery, { prefetch: 10 });
    // Five visibility timeouts: without renewal the leases would have run out several times over.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(stolen.received.length, 0, 'a message held by a live consumer was redelivered');
    // Once the holder closes without acking, the other consumer gets them at once.
    await c1.cancel();
    await holder.close();
    const got = await stolen.waitFor(2, waits, 'messages given back by close()');
    for (const d of got) assert.equal(d.redelivered, true);
    for (const d of got) await stolen.ack(d);
    await c2.cancel();
  } finally {
    await holder.close();
    await other.close();
  }
});
