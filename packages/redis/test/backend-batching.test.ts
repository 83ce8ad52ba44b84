/**
 * The result backend groups what a busy worker or client issues at once, seen from Redis itself
 * (MONITOR, filtered on the test's own key prefix): the results stored in one event-loop turn go
 * in one script call (a key that cannot be written fails alone), and channels whose grace period
 * ended are unsubscribed in one command.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { silentLogger } from '@celeriac/core';
import { eventually, sampleMeta } from '@celeriac/testing';
import { RedisBackend } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import { STORE_AND_PUBLISH_MANY } from '../src/result-scripts.js';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';
import { quiet, watchCommands } from './monitor-fixture.js';

const skip = await redisSkipReason();
const WAIT = 5000;

describe('redis result backend: batching', { skip }, () => {
  let prefix: string;
  let raw: Redis;
  let commands: Awaited<ReturnType<typeof watchCommands>>;
  const opened: RedisBackend[] = [];
  const open = (options: { unsubscribeDelay?: number } = {}) => {
    const backend = new RedisBackend({ url: withPrefix(REDIS_URL, prefix), logger: silentLogger, ...options });
    opened.push(backend);
    return backend;
  };
  beforeEach(async () => {
    prefix = uniquePrefix('backend-batching');
    raw = rawClient();
    commands = await watchCommands(prefix);
  });
  afterEach(async () => {
    commands.stop();
    for (const b of opened.splice(0)) await b.close();
    await deletePrefixed(raw, prefix);
    raw.disconnect();
  });

  it('stores the results of one turn in one script call; a key that cannot be written fails alone', async () => {
    const backend = open();
    const ids = Array.from({ length: 20 }, () => randomUUID());
    // Not a string: the write to this key fails with WRONGTYPE, the others go through.
    await raw.hset(`${prefix}celery-task-meta-${ids[7]}`, 'field', 'value');
    const results = await Promise.allSettled(ids.map((id) => backend.set(id, sampleMeta(id))));
    results.forEach((r, i) => {
      if (i === 7) assert.match(r.status === 'rejected' ? String((r.reason as Error).message) : 'fulfilled', /WRONGTYPE/);
      else assert.equal(r.status, 'fulfilled', `set() ${i}`);
    });
    const stored = await backend.getMany(ids);
    stored.forEach((meta, i) => assert.deepEqual(meta, i === 7 ? null : sampleMeta(ids[i]!)));
    await quiet();
    const calls = commands.seen.filter((s) => s.args[0]?.toLowerCase() === 'evalsha' && s.args[1] === STORE_AND_PUBLISH_MANY.sha);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.args[2], '20');
  });

  it('a set() issued just before close() is still stored', async () => {
    const backend = open();
    await backend.connect();
    const id = randomUUID();
    const storing = backend.set(id, sampleMeta(id));
    await backend.close();
    await storing;
    assert.deepEqual(JSON.parse((await raw.get(`${prefix}celery-task-meta-${id}`)) ?? 'null'), sampleMeta(id));
  });

  it('unsubscribes the channels whose grace period ended together', async () => {
    const backend = open({ unsubscribeDelay: 50 });
    const ids = Array.from({ length: 5 }, () => randomUUID());
    // Subscribed and confirmed, then left.
    await Promise.all(ids.map((id) => backend.watch(id).woken));
    const numsub = async () => (await raw.call('PUBSUB', 'NUMSUB', ...ids.map((id) => `${prefix}celery-task-meta-${id}`))) as (string | number)[];
    await eventually(async () => (await numsub()).filter((_, i) => i % 2 === 1).every((n) => Number(n) === 0), WAIT, 'every channel to be unsubscribed');
    await quiet();
    const unsubscribes = commands.seen.filter((s) => s.args[0]?.toLowerCase() === 'unsubscribe');
    assert.equal(unsubscribes.length, 1);
    assert.equal(unsubscribes[0]!.args.length, 1 + ids.length);
  });
});
