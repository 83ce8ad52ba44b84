/** The worker on the in-memory broker: results, failures, arguments, states. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ConfigError, RemoteTaskError, States, type App } from '../src/index.js';
import { memoryApp, startWorker } from './helpers.js';
import { currentTask, taskStorageDepth } from '../src/current-task.js';

class ServiceError extends Error {
  override name = 'ServiceError';
}

describe('worker results', () => {
  let app: App;
  let stop: () => Promise<void>;
  const gate: { open?: () => void } = {};

  before(() => {
    app = memoryApp();
    app.task({ name: 'proj.add', params: ['x', 'y'] }, (_ctx, x: number, y: number) => x + y);
    app.task('proj.fail', () => {
      throw new ServiceError('upstream said no');
    });
    app.task('proj.typeerror', () => {
      throw new TypeError('bad type');
    });
    app.task({ name: 'proj.progress', trackStarted: true }, async (ctx) => {
      await ctx.progress({ current: 3, total: 10 });
      await new Promise<void>((resolve) => (gate.open = resolve));
      return 'done';
    });
    app.task('proj.undefined', () => undefined);
    app.task('proj.bigint', () => 10n);
    app.task('proj.spawn', async (ctx) => {
      const child = await app.sendTask('proj.add', { args: [1, 1] });
      return { child: child.id, me: ctx.id };
    });
    ({ stop } = startWorker(app));
  });
  after(async () => {
    await stop();
    await app.close();
  });

  test('a task returns its result with Celery extended metadata', async () => {
    const r = await app.sendTask('proj.add', { args: [2, 3] });
    assert.equal(await r.get({ timeout: 5000 }), 5);
    assert.equal(await r.state(), States.SUCCESS);
    assert.equal(await r.ready(), true);
    assert.equal(await r.successful(), true);
    const meta = await r.meta();
    assert.equal(meta.name, 'proj.add');
    assert.deepEqual(meta.args, [2, 3]);
    assert.equal(meta.retries, 0);
    assert.equal(meta.queue, 'celery');
    assert.match(meta.date_done!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  });

  test('keyword arguments from a Python-style call map onto declared params', async () => {
    const r = await app.sendTask('proj.add', { kwargs: { y: 10, x: 1 } });
    assert.equal(await r.get({ timeout: 5000 }), 11);
  });

  test('arguments a task cannot take fail that task with a TypeError, and nothing else', async () => {
    const bad = await app.sendTask('proj.add', { args: [1, 2, 3] });
    await assert.rejects(bad.get({ timeout: 5000 }), (err: unknown) => {
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.name, 'TypeError');
      assert.match(err.message, /takes 2 positional arguments but 3 were given/);
      return true;
    });
    const missing = await app.sendTask('proj.add', { kwargs: { x: 1 } });
    await assert.rejects(missing.get({ timeout: 5000 }), /missing 1 required argument: 'y'/);
    const good = await app.sendTask('proj.add', { args: [4, 4] });
    assert.equal(await good.get({ timeout: 5000 }), 8);
  });

  test('get() rethrows the task error with its type, message and traceback', async () => {
    const r = await app.sendTask('proj.fail');
    await assert.rejects(r.get({ timeout: 5000 }), (err: unknown) => {
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.name, 'ServiceError');
      assert.equal(err.excType, 'ServiceError');
      assert.equal(err.message, 'upstream said no');
      assert.match(err.remoteTraceback ?? '', /ServiceError: upstream said no/);
      return true;
    });
    assert.equal(await r.failed(), true);
    assert.match((await r.traceback()) ?? '', /at /);
    assert.equal(await r.get({ timeout: 100, propagate: false }).then(() => 'no throw'), 'no throw');
    const typed = await app.sendTask('proj.typeerror');
    assert.deepEqual(await typed.get({ propagate: false, timeout: 5000 }), {
      exc_type: 'TypeError',
      exc_message: ['bad type'],
      exc_module: 'builtins',
    });
  });

  test('a custom state (PROGRESS) with its meta is visible while the task runs', async () => {
    const r = await app.sendTask('proj.progress');
    let state = await r.state();
    for (let i = 0; i < 200 && state !== 'PROGRESS'; i++) {
      await new Promise((res) => setTimeout(res, 10));
      state = await r.state();
    }
    assert.equal(state, 'PROGRESS');
    assert.deepEqual(await r.info(), { current: 3, total: 10 });
    assert.equal(await r.ready(), false);
    gate.open!();
    assert.equal(await r.get({ timeout: 5000 }), 'done');
  });

  test('undefined becomes null; a result JSON cannot hold fails with EncodeError', async () => {
    assert.equal(await (await app.sendTask('proj.undefined')).get({ timeout: 5000 }), null);
    await assert.rejects((await app.sendTask('proj.bigint')).get({ timeout: 5000 }), { name: 'EncodeError' });
  });

  test('a task sent from a task gets parent_id and root_id', async () => {
    const r = await app.sendTask<{ child: string; me: string }>('proj.spawn');
    const { child, me } = await r.get({ timeout: 5000 });
    const childResult = app.asyncResult(child);
    await childResult.get({ timeout: 5000 });
    const meta = await childResult.meta();
    assert.equal(meta.parent_id, me);
  });

  test('tasks started together in one batch each give their own id as parent_id, sync and async ones alike', async () => {
    // Queued before a worker consumes, so they reach it as one batch and start one after another
    // in one go (the task storage held on across them: current-task.ts holdTaskStorage).
    const batchApp = memoryApp();
    batchApp.task('proj.leaf', () => 'leaf');
    batchApp.task('proj.spawn-sync', (ctx) => {
      const child = randomUUID();
      void batchApp.sendTask('proj.leaf', { taskId: child });
      return { child, me: ctx.id };
    });
    batchApp.task('proj.spawn-async', async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const child = await batchApp.sendTask('proj.leaf');
      return { child: child.id, me: ctx.id };
    });
    let openGate: (() => void) | undefined;
    const gateReached = new Promise<void>((reached) => {
      batchApp.task('proj.wait-gate', async () => {
        const opened = new Promise<void>((resolve) => (openGate = resolve));
        reached();
        await opened;
        return 'through';
      });
    });
    const sent = await batchApp.sendTasks(Array.from({ length: 12 }, (_, i) => ({ name: i % 2 ? 'proj.spawn-async' : 'proj.spawn-sync' })));
    const { stop: stopBatch } = startWorker(batchApp, { concurrency: 12 });
    try {
      for (const r of sent) {
        const { child, me } = (await r.get({ timeout: 5000 })) as { child: string; me: string };
        assert.equal(me, r.id);
        await batchApp.asyncResult(child).get({ timeout: 5000 });
        const meta = await batchApp.asyncResult(child).meta();
        assert.equal(meta.parent_id, me, `the child of ${me}`);
      }
      assert.equal(currentTask(), undefined, 'no task frame is left outside the tasks');
      // Every turn on was matched by one turn off: a hold released twice, or never, shows here.
      assert.equal(taskStorageDepth(), 0, 'the task storage is off once every task is done');
      const waiting = await batchApp.sendTask('proj.wait-gate');
      await gateReached;
      assert.ok(taskStorageDepth() > 0, 'the task storage stays on while a task awaits');
      openGate!();
      assert.equal(await waiting.get({ timeout: 5000 }), 'through');
      assert.equal(taskStorageDepth(), 0, 'and goes off when it is done');
    } finally {
      await stopBatch();
      await batchApp.close();
    }
  });

  test('forget() removes the result; an unknown id is PENDING', async () => {
    const r = await app.sendTask('proj.add', { args: [1, 2] });
    await r.get({ timeout: 5000 });
    await r.forget();
    assert.equal(await r.state(), States.PENDING);
    assert.equal(await app.asyncResult('no-such-id').state(), States.PENDING);
  });

  test('get() with a timeout throws ResultTimeoutError for a task that never runs', async () => {
    const r = await app.sendTask('proj.add', { args: [1, 2], queue: 'nobody-listens' });
    await assert.rejects(r.get({ timeout: 50 }), { code: 'CELERIAC_E_RESULT_TIMEOUT' });
  });

  test('get() refuses a timeout that is not a non-negative number, naming the option', async () => {
    for (const timeout of [NaN, -1]) {
      await assert.rejects(app.asyncResult('no-such-id').get({ timeout }), (err: Error) => err instanceof ConfigError && /"timeout"/.test(err.message));
    }
  });
});
