/**
 * Review: peek() answers from a channel entry that outlives what it describes.
 *
 * 1. A task id sent again within the grace period (a caller-chosen `taskId`) after its result was
 *    forgotten (AsyncResult.forget() = backend.delete()): expect() finds the channel still there
 *    (prepare() returns early for a known channel) with `sinceSend` true and `last` = the first
 *    run's SUCCESS, so the first look of the new run's get() returns the first run's result,
 *    although the key is gone and the new run has not finished (here: not even been sent).
 * 2. peek() says null ("nothing stored yet") for a key stored before the send and never published
 *    since (the same id re-sent while its SUCCESS is stored: the worker's write is kept and not
 *    published). `get({ timeout: 0 })` then reports a timeout for a stored result; before this
 *    session its first look was a GET.
 *
 * Both hold for either way of arming: the task's own channel (notifyWaitMs 0, Celery's way) and
 * the client's notify channel (the default, notify-channel.ts).
 *
 * Uses the shared Redis at REDIS_URL under a key prefix of its own (no FLUSHDB).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { AsyncResult, silentLogger, waitForReady } from '@celeriac/core';
import { eventually, sampleMeta } from '@celeriac/testing';
import { RedisBackend } from '@celeriac/redis';
import { rawClient, redisSkipReason, REDIS_URL } from './backend-fixture.js';

const skip = await redisSkipReason();
const PREFIX = `review-peek-${randomUUID()}:`;

async function subscriberUp(backend: RedisBackend): Promise<void> {
  await backend.watch(randomUUID()).woken;
}

for (const [mode, notifyWaitMs] of [['own channel', 0], ['notify channel', 2]] as const) describe(`review: peek after the stored result changed behind the channel (${mode})`, { skip, timeout: 30_000 }, () => {
  const opened: RedisBackend[] = [];
  after(async () => {
    for (const b of opened) await b.close();
    if (skip) return;
    const raw = rawClient();
    const keys = await raw.keys(`${PREFIX}*`);
    if (keys.length) await raw.del(...keys);
    raw.disconnect();
  });
  const open = () => {
    const backend = new RedisBackend({ url: REDIS_URL, keyPrefix: PREFIX, logger: silentLogger, unsubscribeDelay: 5000, notifyWaitMs });
    opened.push(backend);
    return backend;
  };

  it('a forgotten result is not returned for the same id sent again', async () => {
    const backend = open();
    await subscriberUp(backend);
    const id = randomUUID();
    // First run: sent (expect), stored and published by its worker, read, then forgotten.
    const notify = backend.expect(id) || null;
    assert.equal(notify !== null, notifyWaitMs > 0, 'expect() names the notify channel exactly when it is on');
    await backend.set(id, sampleMeta(id, 'SUCCESS', 'first run'), { notify });
    await eventually(() => backend.peek(id)?.status === 'SUCCESS', 5000, 'peek to see the first SUCCESS');
    await new AsyncResult(id, () => backend).forget();
    assert.equal(await backend.get(id), null, 'the key is gone');
    // Second run with the same id: sent again, not finished yet.
    backend.expect(id);
    const meta = await waitForReady(backend, id, 300);
    assert.equal(meta, null, `waitForReady returned ${JSON.stringify(meta?.result)} for a result that was deleted`);
  });

  it('get({ timeout: 0 }) finds a result stored before the send', async () => {
    const backend = open();
    await subscriberUp(backend);
    const id = randomUUID();
    // Stored earlier (a previous run of this id); its SUCCESS is kept by the next run's write,
    // which then publishes nothing.
    await backend.set(id, sampleMeta(id, 'SUCCESS', 'stored'));
    backend.expect(id);
    assert.equal(await new AsyncResult(id, () => backend).get({ timeout: 0 }).catch((err: unknown) => err), 'stored');
  });
});
