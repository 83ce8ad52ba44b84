/**
 * The client's notify channel (notify-channel.ts): a task sent on its own names it in its
 * `celeriac_notify` header, and a celeriac worker publishes the task's states there too, so the
 * awaiting client needs no SUBSCRIBE per task. On this file's own database (9, own-db-fixture.ts):
 * - expect() names the channel (and subscribes it once); the header rides in the message, and the
 *   worker's write publishes on both the task's channel and the notify channel;
 * - with an App and a Worker on one URL, N sequential delay()+get() round trips cost one SUBSCRIBE
 *   in all (MONITOR), no GET, and give the right values;
 * - a task whose worker does not publish there (a plain store, as Python Celery's worker does) is
 *   still returned by get(), through the task's own channel after the notify wait;
 * - when the subscriber connection breaks, what was pushed is forgotten (peek cannot tell) and a
 *   result stored meanwhile is still returned;
 * - `notify_wait=0` (URL) or `notifyWaitMs: 0` turns it off; a bad value is a ConfigError; the
 *   broker accepts the option on a shared URL.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { App, AsyncResult, ConfigError, NOTIFY_HEADER, silentLogger, waitForReady } from '@celeriac/core';
import { eventually, sampleMeta } from '@celeriac/testing';
import { RedisBackend, RedisBroker } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import { redisSkipReason } from './backend-fixture.js';
import { clientsOn, dbClient, dbUrl, monitorDbs, ownDbBackends, settle, withWorker } from './own-db-fixture.js';

const skip = await redisSkipReason();
const DB = 9;
const DB_URL = dbUrl(DB);
const WAIT = 10_000;
const key = (id: string) => `celery-task-meta-${id}`;

describe('redis result backend: the notify channel', { skip, timeout: 60_000 }, () => {
  const { raw: rawClient, open } = ownDbBackends(DB);
  let raw: Redis;
  before(() => void (raw = rawClient()));

  it('the header names the channel, and a stored state is published there and on the task channel', async () => {
    const backend = open();
    const app = new App({ broker: DB_URL, backend, logger: silentLogger });
    try {
      await app.connect();
      // The first send opens the subscriber connection (its task is armed on its own channel).
      await backend.watch(randomUUID()).woken;
      const sent = await app.sendTask('notify.nobody-runs-this');
      const [envelope] = await raw.lrange('celery', 0, -1);
      const notify = (JSON.parse(envelope!) as { headers: Record<string, unknown> }).headers[NOTIFY_HEADER];
      assert.match(String(notify), /^celeriac-notify-[0-9a-f-]{36}$/);

      const listener = dbClient(DB);
      const heard: [string, string][] = [];
      listener.on('message', (channel: string, message: string) => heard.push([channel, message]));
      await listener.subscribe(String(notify), key(sent.id));
      // What the worker's write does for this message (result-writer.ts passes the header on).
      await open().set(sent.id, sampleMeta(sent.id, 'SUCCESS', 7), { notify: String(notify) });
      await eventually(() => heard.length === 2, WAIT, 'both publishes');
      listener.disconnect();
      assert.deepEqual(heard.map(([channel]) => channel).sort(), [String(notify), key(sent.id)].sort());
      assert.equal(heard[0]![1], heard[1]![1], 'the same metadata on both');
      assert.equal(await sent.get({ timeout: WAIT }), 7);
      assert.equal(backend.peek(sent.id)?.result, 7, 'the push was remembered');
    } finally {
      await app.close();
    }
  });

  it('N round trips through a worker cost one SUBSCRIBE and no GET', async () => {
    const N = 30;
    // A notify wait longer than any round trip here (MONITOR slows Redis down), so that none
    // turns to its own channel: what is counted is the notify path alone.
    const backend = open({ notifyWaitMs: 5000 });
    const app = new App({ broker: DB_URL, backend, logger: silentLogger });
    const add = app.task('notify.add', (_ctx, a: number, b: number) => a + b);
    const monitor = await monitorDbs([DB]);
    try {
      await withWorker(app, {}, async () => {
        // The first also opens the subscriber connection (and arms its own channel).
        assert.equal(await (await add.delay(0, 0)).get({ timeout: WAIT }), 0);
        await settle();
        const from = monitor.lines.length;
        for (let i = 1; i <= N; i++) assert.equal(await (await add.delay(i, 1)).get({ timeout: WAIT }), i + 1);
        await settle();
        // Commands sent by clients (a script's own calls show up as source "lua").
        const names = monitor.lines.slice(from).filter((l) => l.source !== 'lua').map((l) => l.args[0]?.toLowerCase());
        assert.ok(names.filter((n) => n === 'subscribe').length <= 1, `SUBSCRIBE ${names.filter((n) => n === 'subscribe').length} times for ${N} tasks`);
        assert.equal(names.filter((n) => n === 'get' || n === 'mget').length, 0, 'no read: every result was pushed');
        const lpushes = names.filter((n) => n === 'lpush').length;
        assert.equal(lpushes, N, 'the round trips did run');
      });
    } finally {
      monitor.stop();
    }
  });

  it('a result stored without the notify publish (a Python worker) is still returned', async () => {
    const backend = open({ notifyWaitMs: 50 });
    await backend.watch(randomUUID()).woken;
    const id = randomUUID();
    assert.ok(backend.expect(id), 'the notify channel is named');
    assert.equal(backend.peek(id), null, 'nothing pushed yet, and the push may still come');
    const waiting = waitForReady(backend, id, WAIT);
    // Stored the way Celery's worker stores it: SET and PUBLISH on the task's own channel only.
    setTimeout(() => void open().set(id, sampleMeta(id, 'SUCCESS', 'from python')), 200);
    assert.equal((await waiting)?.result, 'from python');
    assert.equal(backend.peek(id), undefined, 'past the notify wait, the channel cannot tell');
  });

  it('a broken subscriber connection forgets what was pushed; a result stored meanwhile is returned', async () => {
    const backend = open({ notifyWaitMs: 5000 });
    await backend.watch(randomUUID()).woken;
    const first = randomUUID();
    const notify = backend.expect(first) || null;
    await open().set(first, sampleMeta(first, 'SUCCESS', 1), { notify });
    await eventually(() => backend.peek(first)?.status === 'SUCCESS', WAIT, 'the push');
    const second = randomUUID();
    backend.expect(second);
    const waiting = waitForReady(backend, second, WAIT);
    // Our own subscriber connection only: CLIENT KILL by id.
    const subscribers = (await clientsOn(raw, DB)).filter((c) => c.flags.includes('P'));
    assert.equal(subscribers.length, 1);
    await raw.client('KILL', 'ID', subscribers[0]!.id);
    await open().set(second, sampleMeta(second, 'SUCCESS', 2), { notify });
    assert.equal((await waiting)?.result, 2);
    assert.equal(backend.peek(first), undefined, 'what was pushed before the break is forgotten');
  });

  it('notify_wait=0 or notifyWaitMs 0 turns it off; bad values are refused; the broker accepts the option', async () => {
    const off = open({}, `${DB_URL}?notify_wait=0`);
    await off.watch(randomUUID()).woken;
    assert.equal(off.expect(randomUUID()), undefined);
    const alsoOff = open({ notifyWaitMs: 0 });
    await alsoOff.watch(randomUUID()).woken;
    assert.equal(alsoOff.expect(randomUUID()), undefined);
    const on = open({}, `${DB_URL}?notify_wait=20`);
    await on.watch(randomUUID()).woken;
    assert.equal(typeof on.expect(randomUUID()), 'string');
    assert.throws(() => new RedisBackend({ url: `${DB_URL}?notify_wait=soon` }), ConfigError);
    assert.throws(() => new RedisBackend({ url: DB_URL, notifyWaitMs: -1 }), ConfigError);
    assert.doesNotThrow(() => new RedisBroker({ url: `${DB_URL}?notify_wait=5` }));
    await assert.rejects(open().set(randomUUID(), sampleMeta('x'), { notify: 5 as unknown as string }), ConfigError);
  });

  it('an AsyncResult of another client is not served by this client\'s notify channel', async () => {
    const sender = open();
    await sender.watch(randomUUID()).woken;
    const id = randomUUID();
    const notify = sender.expect(id) || null;
    const other = open();
    // The other client never expected the id: it reads and watches the task's own channel.
    const waiting = new AsyncResult(id, () => other).get({ timeout: WAIT });
    await open().set(id, sampleMeta(id, 'SUCCESS', 'seen by both'), { notify });
    assert.equal(await waiting, 'seen by both');
  });
});
