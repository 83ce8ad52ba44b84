/**
 * A result channel armed as its task is sent (RedisBackend `expect`, called by core's App for a
 * task sent on its own) and what the backend then knows without asking Redis (`peek`, the first
 * look of core's waitForReady), on this file's own database (8, see own-db-fixture.ts). The
 * backends here arm the task's own channel (notifyWaitMs 0), as Celery's client does; the
 * default, the client's notify channel, is tested in notify-expect.test.ts:
 * - after expect(id), a state published on the channel is remembered: peek returns it, decoded,
 *   with nobody watching and nothing stored; null before anything is published; undefined for an
 *   id never expected, and for one expected before the subscriber connection was up;
 * - with an App and a Worker on one URL, `(await task.delay()).get()` returns the value, also when
 *   the worker finished before get() was called; while the channel is armed neither needs a GET,
 *   and once it lapsed (grace period over) get() reads the store;
 * - the safety net: a result stored with a plain SET (no PUBLISH) after expect() is still returned
 *   by get(), within the bounded re-read (about a second), not at the timeout;
 * - after the subscriber connection is killed and comes back, peek returns undefined for a channel
 *   armed before (messages may have been missed meanwhile);
 * - released channels are unsubscribed in batches: N sequential delay()+get() round trips cost far
 *   fewer than N UNSUBSCRIBE commands (MONITOR, the subscriber connection's lines), and none is
 *   left subscribed after the grace period.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { App, AsyncResult, silentLogger } from '@celeriac/core';
import { eventually, sampleMeta } from '@celeriac/testing';
import { RedisBackend } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import type { ResultSubscriber } from '../src/result-subscriber.js';
import { redisSkipReason } from './backend-fixture.js';
import { clientsOn, dbUrl, monitorDbs, ownDbBackends, settle, withWorker } from './own-db-fixture.js';

const skip = await redisSkipReason();
const DB = 8;
const DB_URL = dbUrl(DB);
const WAIT = 10_000;
/** The key of a task's result, which is also its channel. */
const key = (id: string) => `celery-task-meta-${id}`;

/**
 * Opens the backend's subscriber connection: a watch resolves once its SUBSCRIBE is confirmed.
 * Until then expect() cannot vouch for a channel (its SUBSCRIBE waits for the connection and may
 * go out after the task), so peek says undefined.
 */
async function subscriberUp(backend: RedisBackend): Promise<void> {
  await backend.watch(randomUUID()).woken;
}

/** The backend's subscriber, for `subscribedChannels()` (diagnostics, not on RedisBackend). */
const subscriberOf = (backend: RedisBackend) => (backend as unknown as { subscriber: ResultSubscriber }).subscriber;

describe('redis result backend: expect and peek', { skip, timeout: 60_000 }, () => {
  const { raw: rawClient, open } = ownDbBackends(DB, { notifyWaitMs: 0 });
  let raw: Redis;
  before(() => void (raw = rawClient()));
  const numsub = async (id: string) => Number(((await raw.call('PUBSUB', 'NUMSUB', key(id))) as [string, number])[1]);

  it('after expect(), peek returns the last state published on the channel, with nobody watching', async () => {
    const backend = open({ unsubscribeDelay: 60_000 });
    const id = randomUUID();
    const stranger = randomUUID();
    const tooSoon = randomUUID();
    backend.expect(tooSoon);
    assert.equal(backend.peek(tooSoon), undefined, 'expected before the subscriber connection was up');
    await subscriberUp(backend);
    assert.equal(backend.peek(id), undefined, 'before expect()');
    backend.expect(id);
    assert.equal(backend.peek(id), null, 'expected, nothing published yet');
    await eventually(async () => (await numsub(id)) === 1, WAIT, 'the channel to be subscribed');
    assert.equal(backend.peek(id), null, 'subscribed, nothing published yet');

    await raw.publish(key(id), JSON.stringify(sampleMeta(id, 'STARTED', null)));
    await eventually(() => backend.peek(id)?.status === 'STARTED', WAIT, 'peek to see STARTED');
    await raw.publish(key(id), JSON.stringify(sampleMeta(id)));
    await eventually(() => backend.peek(id)?.status === 'SUCCESS', WAIT, 'peek to see SUCCESS');
    assert.deepEqual(backend.peek(id), sampleMeta(id));
    assert.equal(await raw.exists(key(id)), 0, 'nothing stored: peek answered from the channel alone');

    await raw.publish(key(stranger), JSON.stringify(sampleMeta(stranger)));
    assert.equal(backend.peek(stranger), undefined, 'an id never expected');
  });

  it('delay().get() returns the value, also when the worker finished before get()', async () => {
    const backend = new RedisBackend({ url: DB_URL, logger: silentLogger, notifyWaitMs: 0 });
    const app = new App({ broker: DB_URL, backend, logger: silentLogger });
    const add = app.task('expect.add', (_ctx, a: number, b: number) => a + b);
    await withWorker(app, {}, async () => {
      // The first one also opens the subscriber connection.
      assert.equal(await (await add.delay(1, 1)).get({ timeout: WAIT }), 2);
      let reads = 0;
      const get = backend.get.bind(backend);
      backend.get = (id: string) => {
        reads++;
        return get(id);
      };

      assert.equal(await (await add.delay(2, 3)).get({ timeout: WAIT }), 5, 'get() at once');
      const early = await add.delay(4, 5);
      await eventually(async () => (await raw.exists(key(early.id))) === 1, WAIT, 'the worker to store the result');
      assert.equal(await early.get({ timeout: WAIT }), 9, 'get() after the worker finished');
      assert.equal(reads, 0, 'a GET while the channel armed at send time could answer');

      // Past the grace period the unwatched channel lapses: peek cannot tell, get() reads the store.
      const late = await add.delay(6, 7);
      await eventually(() => backend.peek(late.id) === undefined, WAIT, 'the channel to lapse');
      assert.equal(await late.get({ timeout: WAIT }), 13, 'get() after the channel lapsed');
      assert.ok(reads > 0, 'the lapsed channel\'s result was read from the store');
    });
  });

  it('a result stored without a PUBLISH is found by the bounded re-read, not at the timeout', async () => {
    const backend = open();
    await subscriberUp(backend);
    const id = randomUUID();
    backend.expect(id);
    await eventually(async () => (await numsub(id)) === 1, WAIT, 'the channel to be subscribed');
    // As a writer that stores without publishing would: a plain SET on another connection.
    await raw.set(key(id), JSON.stringify(sampleMeta(id, 'SUCCESS', 'unannounced')));
    assert.equal(backend.peek(id), null, 'the channel saw nothing');
    const started = performance.now();
    assert.equal(await new AsyncResult(id, () => backend).get({ timeout: 5000 }), 'unannounced');
    const ms = performance.now() - started;
    assert.ok(ms < 2500, `get() took ${Math.round(ms)} ms; the re-read comes after about a second`);
  });

  it('after the subscriber connection is lost and back, peek no longer vouches for a channel armed before', async () => {
    const backend = open({ unsubscribeDelay: 60_000 });
    const earlier = new Set((await clientsOn(raw, DB)).map((c) => c.id));
    await subscriberUp(backend);
    const id = randomUUID();
    backend.expect(id);
    await eventually(async () => (await numsub(id)) === 1, WAIT, 'the channel to be subscribed');
    assert.equal(backend.peek(id), null);
    // Ours: the one Pub/Sub connection on this db that appeared since.
    const subscriber = (await clientsOn(raw, DB)).filter((c) => !earlier.has(c.id) && c.flags.includes('P'));
    assert.equal(subscriber.length, 1, 'one new subscriber connection');
    await raw.client('KILL', 'ID', subscriber[0]!.id);

    await eventually(() => backend.peek(id) === undefined, WAIT, 'peek to give up on the channel after the reconnect');
    await eventually(async () => (await numsub(id)) === 1, WAIT, 'the channel to be subscribed again');
    assert.ok(subscriberOf(backend).subscribedChannels().includes(key(id)), 'still subscribed (not lapsed)');
    await raw.publish(key(id), JSON.stringify(sampleMeta(id)));
    await settle();
    assert.equal(backend.peek(id), undefined, 'a message after the reconnect does not make it continuous again');
  });

  it('released channels are unsubscribed in batches, and none is left after the grace period', async () => {
    const N = 50;
    const GRACE_MS = 500;
    const backend = new RedisBackend({ url: DB_URL, logger: silentLogger, unsubscribeDelay: GRACE_MS, notifyWaitMs: 0 });
    const app = new App({ broker: DB_URL, backend, logger: silentLogger });
    const add = app.task('expect.add', (_ctx, a: number, b: number) => a + b);
    const monitor = await monitorDbs([DB]);
    try {
      const ids = await withWorker(app, {}, async () => {
        const ids: string[] = [];
        for (let i = 0; i < N; i++) {
          const result = await add.delay(i, 1);
          assert.equal(await result.get({ timeout: WAIT }), i + 1);
          ids.push(result.id);
        }
        const channels = () => subscriberOf(backend).subscribedChannels();
        assert.ok(channels().length > 0, 'the last channels linger for the grace period');
        await eventually(() => channels().length === 0, WAIT, 'every channel to be unsubscribed');
        return ids;
      });
      await settle();
      const subscribers = new Set(monitor.lines.filter((l) => l.args[0]?.toLowerCase() === 'subscribe' && l.args.includes(key(ids[0]!))).map((l) => l.source));
      assert.equal(subscribers.size, 1, 'one subscriber connection');
      const [address] = subscribers;
      const unsubscribes = monitor.lines.filter((l) => l.source === address && l.args[0]?.toLowerCase() === 'unsubscribe');
      const released = new Set(unsubscribes.flatMap((l) => l.args.slice(1)));
      assert.deepEqual(ids.filter((id) => !released.has(key(id))), [], 'every channel was unsubscribed');
      assert.ok(unsubscribes.length <= N / 5, `${unsubscribes.length} UNSUBSCRIBE commands for ${N} channels (sizes ${unsubscribes.map((l) => l.args.length - 1).join(', ')})`);
    } finally {
      monitor.stop();
    }
  });
});
