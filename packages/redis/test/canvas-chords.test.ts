/**
 * Chords on Redis, end to end with a celeriac worker: counted in Celery's keys
 * (`celery-taskset-meta-<gid>.s` / `.j`), the body run once with the results in header order, a
 * failing header task failing the body with Celery's ChordError text and running the body's error
 * callbacks, a chain's group-then-task upgraded to a chord, and a chord of 1,000 header tasks.
 * Everything lives under this file's key prefix.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, chain, chord, group, GroupResult, linkError, RemoteTaskError, signature, silentLogger, Worker, type AsyncResult } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';

const skip = await redisSkipReason();
const prefix = uniquePrefix('canvas-chords');
const url = withPrefix(REDIS_URL, prefix);
const T = { timeout: 60_000 };

describe('chords on Redis', { skip }, () => {
  let raw: Redis;
  let app: App;
  let worker: Worker;
  let running: Promise<void>;
  const errbacks: unknown[][] = [];
  const bodyRuns: unknown[][] = [];
  let add: ReturnType<typeof tasks>['add'];
  let fail: ReturnType<typeof tasks>['fail'];
  let xsum: ReturnType<typeof tasks>['xsum'];
  let onErr: ReturnType<typeof tasks>['onErr'];

  function tasks(a: App) {
    return {
      add: a.task('cc.add', (_ctx, x: number, y: number) => x + y),
      fail: a.task({ name: 'cc.fail', maxRetries: 0 }, () => {
        throw new RangeError('boom');
      }),
      xsum: a.task('cc.xsum', (_ctx, values: number[]) => {
        bodyRuns.push(values);
        return values.reduce((s, v) => s + v, 0);
      }),
      onErr: a.task('cc.on_err', (_ctx, ...args: unknown[]) => {
        errbacks.push(args);
      }),
    };
  }

  before(async () => {
    raw = rawClient();
    app = new App({ broker: url, backend: url, logger: silentLogger });
    ({ add, fail, xsum, onErr } = tasks(app));
    await app.connect();
    worker = Worker.create(app, { concurrency: 50 });
    running = worker.run();
  });
  after(async () => {
    await worker?.shutdown();
    await running;
    await app?.close();
    await deletePrefixed(raw, prefix);
    raw.disconnect();
  });

  const chordKeys = async (gid: string) => raw.keys(`${prefix}celery-taskset-meta-${gid}*`);

  it('runs the body once with the results in header order, then removes its keys', async () => {
    bodyRuns.length = 0;
    const res = await app.apply(chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], xsum.s()));
    assert.equal(await res.get(T), 12);
    assert.deepEqual(bodyRuns, [[2, 4, 6]]);
    const header = res.parent!;
    assert.equal(header.constructor.name, 'GroupResult');
    assert.deepEqual(await chordKeys(header.id), []);
  });

  it('records the size before the header runs', async () => {
    // A header task that waits lets us look at the chord's keys while it is open.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    app.task('cc.wait', async () => {
      await gate;
      return 1;
    });
    const res = await app.apply(chord([signature('cc.wait'), add.s(1, 1)], xsum.s()));
    const gid = res.parent!.id;
    const deadline = Date.now() + 10_000;
    while ((await raw.get(`${prefix}celery-taskset-meta-${gid}.s`)) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await raw.get(`${prefix}celery-taskset-meta-${gid}.s`), '2');
    release();
    assert.equal(await res.get(T), 3);
  });

  it('a failing header task fails the body with ChordError and runs its error callbacks', async () => {
    errbacks.length = 0;
    bodyRuns.length = 0;
    const res = (await app.apply(chord([add.s(1, 1), fail.s()], linkError(xsum.s(), onErr.s())))) as AsyncResult;
    const failing = (res.parent as GroupResult).results[1]!;
    await assert.rejects(res.get(T), (err: unknown) => {
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.name, 'ChordError');
      assert.equal(err.excModule, 'celery.exceptions');
      assert.equal(err.message, `Dependency ${failing.id} raised ValueError('boom')`);
      return true;
    });
    const deadline = Date.now() + 10_000;
    while (errbacks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(errbacks, [[res.id]]);
    assert.deepEqual(bodyRuns, [], 'the body did not run');
  });

  it('a chain with a group followed by a task is a chord', async () => {
    const res = (await app.apply(chain(add.s(1, 1), group(add.s(1), add.s(2)), xsum.s()))) as AsyncResult;
    assert.equal(await res.get(T), 7);
  });

  it('a chord of 1,000 header tasks completes', async () => {
    bodyRuns.length = 0;
    const header = Array.from({ length: 1000 }, (_, i) => add.s(i, 1));
    const res = await app.apply(chord(header, xsum.s()));
    assert.equal(await res.get(T), (999 * 1000) / 2 + 1000);
    assert.equal(bodyRuns.length, 1);
    assert.deepEqual(bodyRuns[0]!.slice(0, 3), [1, 2, 3], 'results in header order');
  });
});
