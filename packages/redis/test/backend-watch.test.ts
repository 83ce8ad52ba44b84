/**
 * `watch()` on Redis Pub/Sub: one subscription per watched channel however many watchers, woken
 * once when the subscription goes live and then only by writes, unsubscribed after the last
 * watcher leaves, and re-subscribed (with a wake-up) after the connection is lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitForReady, type ResultMeta, type ResultWatch } from '@celeriac/core';
import { eventually, sampleMeta, within } from '@celeriac/testing';
import { RedisBackend } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, startScratchRedis, uniquePrefix, withPrefix, type ScratchRedis } from './backend-fixture.js';

const skip = await redisSkipReason();
const prefix = uniquePrefix('backend-watch');
const url = withPrefix(REDIS_URL, prefix);
const WAIT = 10_000;

async function numsub(client: Redis, channel: string): Promise<number> {
  const reply = (await client.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

describe('redis result backend: watch', { skip }, () => {
  let raw: Redis;
  const opened: RedisBackend[] = [];
  const open = (options: { unsubscribeDelay?: number; url?: string } = {}) => {
    const b = new RedisBackend({ url, logger: silentLogger, ...options });
    opened.push(b);
    return b;
  };
  before(() => {
    raw = rawClient();
  });
  after(async () => {
    for (const b of opened) await b.close();
    await deletePrefixed(raw, prefix);
    raw.disconnect();
  });

  it('waitForReady does not spin while nothing is written', async () => {
    const backend = open();
    let reads = 0;
    const get = backend.get.bind(backend);
    backend.get = (id: string) => {
      reads++;
      return get(id);
    };
    // A loop that re-subscribed on every pass would read thousands of times in this window.
    assert.equal(await waitForReady(backend, randomUUID(), 300), null);
    assert.ok(reads <= 5, `get() was called ${reads} times`);
  });

  it('wakes a waitForReady caller when another instance writes', async () => {
    const backend = open();
    const writer = open();
    const id = randomUUID();
    const waiting = waitForReady(backend, id, WAIT);
    await writer.set(id, sampleMeta(id, 'STARTED', null));
    await writer.set(id, sampleMeta(id, 'SUCCESS', 'done'));
    assert.deepEqual(await waiting, sampleMeta(id, 'SUCCESS', 'done'));
  });

  it('a re-armed watch on a live subscription waits for a write', async () => {
    const backend = open();
    const a = randomUUID();
    const b = randomUUID();
    // The first watches resolve when their subscriptions are confirmed.
    await Promise.all([backend.watch(a).woken, backend.watch(b).woken]);
    const watchA = backend.watch(a);
    const watchB = backend.watch(b);
    try {
      let aWoke = false;
      const wokenA = watchA.woken.then(() => (aWoke = true));
      await raw.publish(`${prefix}celery-task-meta-${b}`, 'poke');
      await within(watchB.woken, WAIT, 'the watch on b to wake');
      assert.equal(aWoke, false, 'the watch on a woke without a write');
      await raw.publish(`${prefix}celery-task-meta-${a}`, 'poke');
      await within(wokenA, WAIT, 'the watch on a to wake');
    } finally {
      watchA.stop();
      watchB.stop();
    }
  });

  it('subscribes once per channel and unsubscribes after the last watcher leaves', async () => {
    const backend = open({ unsubscribeDelay: 0 });
    const id = randomUUID();
    const channel = `${prefix}celery-task-meta-${id}`;
    await backend.watch(id).woken;
    const w1 = backend.watch(id);
    const w2 = backend.watch(id);
    assert.equal(await numsub(raw, channel), 1);
    w1.stop();
    await w1.woken;
    assert.equal(await numsub(raw, channel), 1, 'unsubscribed while a watcher was left');
    w2.stop();
    await w2.woken;
    await eventually(async () => (await numsub(raw, channel)) === 0, WAIT, 'the channel to be unsubscribed');
    // Watching again subscribes again, and a write wakes it.
    await backend.watch(id).woken;
    const woken = backend.watch(id);
    await open().set(id, sampleMeta(id));
    await within(woken.woken, WAIT, 'the renewed watch to wake');
  });

  it('re-subscribes after losing the connection and wakes its watchers', async (t) => {
    const scratch: ScratchRedis | string = await startScratchRedis();
    if (typeof scratch === 'string') return t.skip(scratch);
    const admin = rawClient(scratch.url);
    let pending: ResultWatch | null = null;
    try {
      const backend = open({ url: scratch.url });
      const writer = open({ url: scratch.url });
      const id = randomUUID();
      const channel = `celery-task-meta-${id}`;
      await backend.watch(id).woken;
      pending = backend.watch(id);
      await admin.client('KILL', 'TYPE', 'pubsub');
      // Nothing was written: only the re-subscription after the reconnect can wake it.
      await within(pending.woken, WAIT, 'the watch to wake after the reconnect');
      assert.equal(await numsub(admin, channel), 1);
      const meta: Promise<ResultMeta | null> = waitForReady(backend, id, WAIT);
      await writer.set(id, sampleMeta(id));
      assert.deepEqual(await meta, sampleMeta(id));
    } finally {
      pending?.stop();
      admin.disconnect();
      await scratch.stop();
    }
  });
});
