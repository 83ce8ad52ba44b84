/**
 * A result the worker knows to be the first state of its task (SetResultOptions.firstWrite) is
 * written with plain commands, seen from Redis itself (MONITOR on the test's own prefix): `SET
 * NX` with its time to live and a PUBLISH on the key's channel and on the notify channel, no
 * script. When the key exists after all, the guarded script decides (a stored SUCCESS stays); a
 * resent write finding itself stored publishes again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { silentLogger } from '@celeriac/core';
import { sampleMeta } from '@celeriac/testing';
import { RedisBackend } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import { STORE_AND_PUBLISH_MANY } from '../src/result-scripts.js';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';
import { quiet, watchCommands, type Seen } from './monitor-fixture.js';

const skip = await redisSkipReason();

describe('redis result backend: first writes', { skip }, () => {
  let prefix: string;
  let raw: Redis;
  let backend: RedisBackend;
  let commands: Awaited<ReturnType<typeof watchCommands>>;
  const named = (name: string) => (s: Seen) => s.args[0]?.toLowerCase() === name;
  const scripts = () => commands.seen.filter((s) => named('evalsha')(s) && s.args[1] === STORE_AND_PUBLISH_MANY.sha);
  beforeEach(async () => {
    prefix = uniquePrefix('backend-first-write');
    raw = rawClient();
    backend = new RedisBackend({ url: withPrefix(REDIS_URL, prefix), logger: silentLogger });
    await backend.connect();
    commands = await watchCommands(prefix);
  });
  afterEach(async () => {
    commands.stop();
    await backend.close();
    await deletePrefixed(raw, prefix);
    raw.disconnect();
  });

  it('goes as SET NX with its time to live and two PUBLISHes, no script', async () => {
    const id = randomUUID();
    const key = `${prefix}celery-task-meta-${id}`;
    const notify = `${prefix}notify-${randomUUID()}`;
    const listener = rawClient();
    const heard: string[] = [];
    listener.on('message', (channel: string) => heard.push(channel));
    await listener.subscribe(key, notify);
    try {
      await backend.set(id, sampleMeta(id), { firstWrite: true, notify, expiresIn: 60 });
      const ttl = await raw.pttl(key);
      assert.ok(ttl > 55_000 && ttl <= 60_000, `time to live ${ttl} ms`);
      assert.deepEqual(await backend.get(id), sampleMeta(id));
      await quiet();
      const sets = commands.seen.filter(named('set'));
      assert.equal(sets.length, 1);
      assert.deepEqual([sets[0]!.args[1], ...sets[0]!.args.slice(3)], [key, 'PX', '60000', 'NX']);
      assert.deepEqual(commands.seen.filter(named('publish')).map((s) => s.args[1]), [key, notify]);
      assert.deepEqual(scripts(), [], 'a first write ran the script');
      assert.deepEqual(heard.sort(), [key, notify].sort());
    } finally {
      listener.disconnect();
    }
  });

  it('falls back to the guarded script when the key exists: a state is replaced, a SUCCESS kept', async () => {
    const [started, done] = [randomUUID(), randomUUID()];
    await backend.set(started, sampleMeta(started, 'STARTED', null));
    await backend.set(done, sampleMeta(done, 'SUCCESS', 'first'));
    const before = scripts().length;
    await backend.set(started, sampleMeta(started, 'SUCCESS', 'ok'), { firstWrite: true });
    await backend.set(done, sampleMeta(done, 'SUCCESS', 'second'), { firstWrite: true });
    assert.deepEqual(await backend.get(started), sampleMeta(started, 'SUCCESS', 'ok'));
    assert.deepEqual(await backend.get(done), sampleMeta(done, 'SUCCESS', 'first'));
    await quiet();
    assert.equal(scripts().length - before, 2, 'each write that found its key went through the script');
  });

  it('a write sent again finds itself stored and publishes again (its first reply was lost)', async () => {
    const id = randomUUID();
    const key = `${prefix}celery-task-meta-${id}`;
    await backend.set(id, sampleMeta(id));
    const listener = rawClient();
    const heard: string[] = [];
    listener.on('message', (_channel: string, text: string) => heard.push(text));
    await listener.subscribe(key);
    try {
      await backend.set(id, sampleMeta(id));
      await backend.set(id, sampleMeta(id, 'SUCCESS', 'another'));
      await quiet();
      // The same value told again; another SUCCESS neither stored nor told.
      assert.deepEqual(heard.map((t) => (JSON.parse(t) as { result: unknown }).result), [sampleMeta(id).result]);
      assert.deepEqual(await backend.get(id), sampleMeta(id));
    } finally {
      listener.disconnect();
    }
  });
});
