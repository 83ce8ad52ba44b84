/**
 * Workflows on Redis with a celeriac worker (the canvas conformance suite): chords counted in
 * Celery's keys (`celery-taskset-meta-<gid>.s` / `.j`), whose size is recorded before the header
 * runs and which are removed once the body is sent. Everything lives under this file's key prefix.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, chord, GroupResult, signature, silentLogger, Worker, type AsyncResult } from '@celeriac/core';
import { canvasConformance } from '@celeriac/testing';
import type { Redis } from 'ioredis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';

const skip = await redisSkipReason();
const prefix = uniquePrefix('canvas-chords');
const url = withPrefix(REDIS_URL, prefix);
let raw: Redis | undefined;
after(async () => {
  if (!raw) return;
  await deletePrefixed(raw, prefix);
  raw.disconnect();
});

canvasConformance('redis', { skip, createApp: () => new App({ broker: url, backend: url, logger: silentLogger }) });

describe('chords on Redis: Celery\'s keys', { skip }, () => {
  let app: App;
  let worker: Worker;
  let running: Promise<void>;
  let release!: () => void;
  before(async () => {
    raw = rawClient();
    app = new App({ broker: url, backend: url, logger: silentLogger, defaultQueue: `keys-${prefix}` });
    app.task('keys.add', (_ctx, x: number, y: number) => x + y);
    app.task('keys.xsum', (_ctx, values: number[]) => values.reduce((s, v) => s + v, 0));
    const gate = new Promise<void>((r) => (release = r));
    app.task('keys.wait', async () => {
      await gate;
      return 1;
    });
    await app.connect();
    worker = Worker.create(app, { concurrency: 4 });
    running = worker.run();
  });
  after(async () => {
    release();
    await worker?.shutdown();
    await running;
    await app?.close();
  });

  it('records the size before the header runs and removes its keys once the body is sent', async () => {
    const res = (await app.apply(chord([signature('keys.wait'), signature('keys.add', { args: [1, 1] })], signature('keys.xsum')))) as AsyncResult;
    const gid = res.parent!.id;
    const key = (suffix: string) => `${prefix}celery-taskset-meta-${gid}${suffix}`;
    assert.equal(await raw!.get(key('.s')), '2');
    const deadline = Date.now() + 10_000;
    while ((await raw!.zcard(key('.j'))) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const [member] = await raw!.zrange(key('.j'), 0, -1);
    // The finished part, as Celery writes it: [1, task_id, state, result], scored by its index.
    assert.deepEqual(JSON.parse(member!), [1, (res.parent as GroupResult).results[1]!.id, 'SUCCESS', 2]);
    assert.equal(await raw!.zscore(key('.j'), member!), '1');
    release();
    assert.equal(await res.get({ timeout: 30_000 }), 3);
    assert.deepEqual(await raw!.keys(`${key('')}*`), []);
  });
});
