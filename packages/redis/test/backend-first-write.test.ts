/**
 * A result the worker knows to be the first state of its task (SetResultOptions.firstWrite), the
 * only write of its turn, is written with plain commands, seen from Redis itself (MONITOR on the
 * test's own prefix): `SET NX` with its time to live and a PUBLISH on the key's channel and on the
 * notify channel, no script. When the key exists after all, the guarded script decides (a stored
 * SUCCESS stays); a resent write finding itself stored publishes again. Several writes of one turn,
 * first writes among them, go in one script call.
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
import { watchCommands, type Seen } from './monitor-fixture.js';

const skip = await redisSkipReason();

describe('redis result backend: first writes', { skip }, () => {
  let prefix: string;
  let raw: Redis;
  let backend: RedisBackend;
  let commands: Awaited<ReturnType<typeof watchCommands>>;
  const named = (name: string) => (s: Seen) => s.args[0]?.toLowerCase() === name;
  const scripts = () => commands.seen.filter((s) => named('evalsha')(s) && s.args[1] === STORE_AND_PUBLISH_MANY.sha);
  /** A result marked with a text of its own, found verbatim in MONITOR's escaped arguments. */
  const marked = (id: string) => {
    const mark = `mark-${randomUUID()}`;
    return { mark, meta: sampleMeta(id, 'SUCCESS', mark), in: (s: Seen) => s.args.some((a) => a.includes(mark)) };
  };
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

  /**
   * The messages published on `channels`, by channel; caughtUp() resolves once every message
   * published before it has arrived (a marker published after them, on the same connection's
   * subscription, arrives last), and drops the marker.
   */
  async function listen(...channels: string[]) {
    const listener = rawClient();
    const heard: Array<{ channel: string; text: string }> = [];
    listener.on('message', (channel: string, text: string) => heard.push({ channel, text }));
    await listener.subscribe(...channels);
    return {
      heard,
      close: () => listener.disconnect(),
      async caughtUp(): Promise<void> {
        const mark = `caught-up-${randomUUID()}`;
        await raw.publish(channels[0]!, mark);
        for (const until = Date.now() + 5000; !heard.some((h) => h.text === mark); await new Promise((r) => setTimeout(r, 10))) {
          if (Date.now() > until) throw new Error('the marker was not heard within 5 s');
        }
        heard.splice(heard.findIndex((h) => h.text === mark), 1);
      },
    };
  }

  it('goes as SET NX with its time to live and two PUBLISHes, no script', async () => {
    const id = randomUUID();
    const key = `${prefix}celery-task-meta-${id}`;
    const notify = `${prefix}notify-${randomUUID()}`;
    const listener = await listen(key, notify);
    try {
      await backend.set(id, sampleMeta(id), { firstWrite: true, notify, expiresIn: 60 });
      const ttl = await raw.pttl(key);
      assert.ok(ttl > 55_000 && ttl <= 60_000, `time to live ${ttl} ms`);
      assert.deepEqual(await backend.get(id), sampleMeta(id));
      await commands.caughtUp(raw);
      const sets = commands.seen.filter(named('set'));
      assert.equal(sets.length, 1);
      assert.deepEqual([sets[0]!.args[1], ...sets[0]!.args.slice(3)], [key, 'PX', '60000', 'NX']);
      assert.deepEqual(commands.seen.filter(named('publish')).map((s) => s.args[1]), [key, notify]);
      assert.deepEqual(scripts(), [], 'a first write ran the script');
      await listener.caughtUp();
      assert.deepEqual(listener.heard.map((h) => h.channel).sort(), [key, notify].sort());
    } finally {
      listener.close();
    }
  });

  it('without a time to live, SET NX has no PX', async () => {
    const id = randomUUID();
    const key = `${prefix}celery-task-meta-${id}`;
    await backend.set(id, sampleMeta(id), { firstWrite: true, expiresIn: null });
    assert.equal(await raw.pttl(key), -1);
    await commands.caughtUp(raw);
    assert.deepEqual(commands.seen.filter(named('set')).map((s) => [s.args[1], ...s.args.slice(3)]), [[key, 'NX']]);
  });

  it('falls back to the guarded script when the key exists: a state is replaced, a SUCCESS kept', async () => {
    const [started, done] = [randomUUID(), randomUUID()];
    await backend.set(started, sampleMeta(started, 'STARTED', null));
    await backend.set(done, sampleMeta(done, 'SUCCESS', 'first'));
    const [ok, second] = [marked(started), marked(done)];
    await backend.set(started, ok.meta, { firstWrite: true });
    await backend.set(done, second.meta, { firstWrite: true });
    assert.deepEqual(await backend.get(started), ok.meta);
    assert.deepEqual(await backend.get(done), sampleMeta(done, 'SUCCESS', 'first'));
    await commands.caughtUp(raw);
    // Each tried SET NX first, then, finding its key, the script.
    for (const write of [ok, second]) {
      assert.deepEqual(commands.seen.filter((s) => write.in(s) && s.source !== 'lua' && (named('set')(s) || s.args[1] === STORE_AND_PUBLISH_MANY.sha)).map((s) => s.args[0]!.toLowerCase()), ['set', 'evalsha']);
    }
  });

  it('several writes of one turn, first writes among them: one script call for all, each settled on its own', async () => {
    const [fresh, started, plain, wrong] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await backend.set(started, sampleMeta(started, 'STARTED', null));
    await raw.hset(`${prefix}celery-task-meta-${wrong}`, 'f', 'v');
    const writes = { fresh: marked(fresh), started: marked(started), plain: marked(plain), wrong: marked(wrong) };
    const outcomes = await Promise.allSettled([
      backend.set(fresh, writes.fresh.meta, { firstWrite: true }),
      backend.set(started, writes.started.meta, { firstWrite: true }),
      backend.set(plain, writes.plain.meta),
      backend.set(wrong, writes.wrong.meta, { firstWrite: true }),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    assert.match(String((outcomes[3] as PromiseRejectedResult).reason), /WRONGTYPE/);
    assert.deepEqual(await backend.getMany([fresh, started, plain]), [writes.fresh.meta, writes.started.meta, writes.plain.meta]);
    await commands.caughtUp(raw);
    const how = (w: { in: (s: Seen) => boolean }) => commands.seen.filter((s) => w.in(s) && s.source !== 'lua' && s.args[0]!.toLowerCase() !== 'publish').map((s) => s.args[0]!.toLowerCase());
    for (const write of Object.values(writes)) assert.deepEqual(how(write), ['evalsha']);
    const calls = scripts().filter((s) => Object.values(writes).some((w) => w.in(s)));
    assert.equal(calls.length, 1, 'one script call carried the four writes');
    assert.ok(Object.values(writes).every((w) => w.in(calls[0]!)));
  });

  it('a write sent again finds itself stored and publishes again on both channels (its first reply was lost)', async () => {
    const id = randomUUID();
    const key = `${prefix}celery-task-meta-${id}`;
    const notify = `${prefix}notify-${randomUUID()}`;
    await backend.set(id, sampleMeta(id), { notify });
    const listener = await listen(key, notify);
    try {
      await backend.set(id, sampleMeta(id), { notify });
      await backend.set(id, sampleMeta(id, 'SUCCESS', 'another'), { notify });
      await listener.caughtUp();
      // The same value told again; another SUCCESS neither stored nor told.
      const told = JSON.stringify(sampleMeta(id));
      assert.deepEqual(listener.heard.sort((a, b) => a.channel.localeCompare(b.channel)), [{ channel: key, text: told }, { channel: notify, text: told }].sort((a, b) => a.channel.localeCompare(b.channel)));
      assert.deepEqual(await backend.get(id), sampleMeta(id));
    } finally {
      listener.close();
    }
  });
});
