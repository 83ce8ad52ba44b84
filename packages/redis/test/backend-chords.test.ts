/**
 * Group results and chord counting in Celery 5.2's Redis layout: `celery-taskset-meta-<gid>` and
 * its `.s` / `.t` / `.j` companions. The concurrency test is the point of the Lua script: however
 * parts interleave across connections, exactly one sees the chord complete.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConfigError, silentLogger, type ChordPartOutcome, type Logger, type ResultTuple } from '@celeriac/core';
import { RedisBackend } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';

const skip = await redisSkipReason();
const prefix = uniquePrefix('backend-chords');
const url = withPrefix(REDIS_URL, prefix);

describe('redis result backend: groups and chords', { skip }, () => {
  let raw: Redis;
  let backend: RedisBackend;
  before(() => {
    raw = rawClient();
    backend = new RedisBackend({ url, logger: silentLogger });
  });
  after(async () => {
    await backend?.close();
    await deletePrefixed(raw, prefix);
    raw.disconnect();
  });

  const groupKey = (gid: string, suffix = '') => `${prefix}celery-taskset-meta-${gid}${suffix}`;

  it('saves, restores and deletes a group as {"result": <tuple>}', async () => {
    const gid = randomUUID();
    const tuple: ResultTuple = [[gid, null], [[[randomUUID(), null], null], [[randomUUID(), [[randomUUID(), null], null]], null]]];
    await backend.saveGroup(gid, tuple, { expiresIn: 86_400 });
    assert.equal(await raw.get(groupKey(gid)), JSON.stringify({ result: tuple }));
    assert.ok((await raw.ttl(groupKey(gid))) > 0);
    assert.deepEqual(await backend.restoreGroup(gid), tuple);
    // Celery does not guard group keys: saving again replaces.
    const smaller: ResultTuple = [[gid, null], []];
    await backend.saveGroup(gid, smaller);
    assert.deepEqual(await backend.restoreGroup(gid), smaller);
    assert.equal(await raw.ttl(groupKey(gid)), -1);
    await backend.deleteGroup(gid);
    assert.equal(await backend.restoreGroup(gid), null);
  });

  it('rejects a malformed tuple and reads an unreadable group as missing', async () => {
    await assert.rejects(backend.saveGroup('g', [['g']] as unknown as ResultTuple), ConfigError);
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => void warnings.push(m) };
    const reader = new RedisBackend({ url, logger });
    try {
      const gid = randomUUID();
      await raw.set(groupKey(gid), '{"result": "nope"}');
      assert.equal(await reader.restoreGroup(gid), null);
      await raw.set(groupKey(gid), 'not json');
      assert.equal(await reader.restoreGroup(gid), null);
      assert.equal(warnings.length, 2);
    } finally {
      await reader.close();
    }
  });

  it('setSize writes .s with SETEX and PUBLISH', async () => {
    const gid = randomUUID();
    const sub = rawClient();
    const received = new Promise<string>((resolve) => sub.on('message', (_ch: string, m: string) => resolve(m)));
    try {
      await sub.subscribe(groupKey(gid, '.s'));
      await backend.chords.setSize(gid, 3, { expiresIn: 86_400 });
      assert.equal(await received, '3');
      assert.equal(await raw.get(groupKey(gid, '.s')), '3');
      assert.ok((await raw.ttl(groupKey(gid, '.s'))) > 0);
      await assert.rejects(backend.chords.setSize(gid, -1), ConfigError);
    } finally {
      sub.disconnect();
    }
  });

  it('exactly one of many concurrent parts completes the chord, with results in group-index order', async () => {
    const size = 24;
    const gid = randomUUID();
    await backend.chords.setSize(gid, size, { expiresIn: 600 });
    const writers = [0, 1, 2, 3].map(() => new RedisBackend({ url, logger: silentLogger }));
    try {
      // Finish in a scrambled order, spread over four connections.
      const order = Array.from({ length: size }, (_, i) => (i * 7) % size);
      const outcomes: ChordPartOutcome[] = await Promise.all(
        order.map((index, n) =>
          writers[n % writers.length]!.chords.addPart(
            { groupId: gid, taskId: `task-${index}`, groupIndex: index, state: 'SUCCESS', result: { index } },
            { expiresIn: 600 },
          ),
        ),
      );
      const complete = outcomes.filter((o) => o.complete);
      assert.equal(complete.length, 1, `${complete.length} parts completed the chord`);
      const done = complete[0]!;
      assert.equal(done.count, size);
      assert.equal(done.total, size);
      assert.deepEqual(done.results, Array.from({ length: size }, (_, index) => ({ index })));
      assert.deepEqual(done.parts.map((p) => p.taskId), Array.from({ length: size }, (_, i) => `task-${i}`));
      assert.ok(done.parts.every((p) => p.state === 'SUCCESS'));
      assert.deepEqual(outcomes.map((o) => o.count).sort((a, b) => a - b), Array.from({ length: size }, (_, i) => i + 1));
      // The bookkeeping is gone once the chord completed.
      assert.equal(await raw.exists(groupKey(gid, '.j'), groupKey(gid, '.t'), groupKey(gid, '.s')), 0);
    } finally {
      await Promise.all(writers.map((w) => w.close()));
    }
  });

  it('stores parts as Celery does and sets their expiry', async () => {
    const gid = randomUUID();
    await backend.chords.setSize(gid, 2);
    const failure = { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' };
    const first = await backend.chords.addPart({ groupId: gid, taskId: 't1', groupIndex: 1, state: 'FAILURE', result: failure }, { expiresIn: 100 });
    assert.deepEqual(first, { complete: false, count: 1, total: 2, parts: [], results: [] });
    assert.deepEqual(await raw.zrange(groupKey(gid, '.j'), 0, -1, 'WITHSCORES'), [JSON.stringify([1, 't1', 'FAILURE', failure]), '1']);
    const ttl = await raw.ttl(groupKey(gid, '.j'));
    assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
    const second = await backend.chords.addPart({ groupId: gid, taskId: 't0', groupIndex: 0, state: 'SUCCESS', result: 1 });
    assert.equal(second.complete, true);
    assert.deepEqual(second.parts, [
      { taskId: 't0', state: 'SUCCESS', result: 1 },
      { taskId: 't1', state: 'FAILURE', result: failure },
    ]);
  });

  it('counts the .t adjustment, sorts parts without an index last, and ignores a repeated part', async () => {
    const gid = randomUUID();
    await backend.chords.setSize(gid, 2);
    await backend.chords.adjustSize(gid);
    const add = (taskId: string, groupIndex: number | null) => backend.chords.addPart({ groupId: gid, taskId, groupIndex, state: 'SUCCESS', result: taskId });
    assert.equal((await add('no-index', null)).complete, false);
    assert.equal((await add('b', 1)).complete, false);
    const repeated = await add('b', 1);
    assert.equal(repeated.count, 2, 'a redelivered part was counted twice');
    const last = await add('a', 0);
    assert.equal(last.total, 3);
    assert.equal(last.complete, true);
    assert.deepEqual(last.results, ['a', 'b', 'no-index']);
  });

  it('never completes a chord whose size is not stored', async () => {
    const gid = randomUUID();
    const outcome = await backend.chords.addPart({ groupId: gid, taskId: 't', groupIndex: 0, state: 'SUCCESS', result: null });
    assert.deepEqual(outcome, { complete: false, count: 1, total: null, parts: [], results: [] });
    assert.equal(await raw.zcard(groupKey(gid, '.j')), 1);
  });
});
