/**
 * A celeriac client calls tasks that a real Python Celery 5.2 worker runs (`celery worker -P threads
 * -c 2`, fixtures/py_interop_worker.py) over the shared Redis, and reads their results and errors:
 * positional and keyword arguments map onto the Python signature, and a Python ValueError arrives as
 * a RemoteTaskError named `ValueError` with its message and traceback.
 *
 * Broker keys live under the test's prefix on both sides (celeriac's `key_prefix` = kombu's
 * `global_keyprefix`); results use Celery's plain `celery-task-meta-<id>` keys with fresh ids. Skipped,
 * with the reason, when Redis or python3-celery is missing and CI is unset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RemoteTaskError, type App } from '@celeriac/core';
import { InteropScope, interopSkipReason, WAIT_MS, type Started } from './interop-fixture.js';

const skip = await interopSkipReason();

describe('interop: a celeriac client calls Python Celery 5.2 tasks', { skip }, () => {
  let scope: InteropScope;
  let app: App;
  let worker: Started;
  before(async () => {
    scope = new InteropScope('py-worker');
    app = scope.app();
    worker = await scope.startPythonWorker();
  });
  after(async () => {
    await app?.close();
    await scope?.cleanup();
  });

  const send = (name: string, options: { args?: unknown[]; kwargs?: Record<string, unknown> }) =>
    app.sendTask(name, { ...options, taskId: scope.taskId(), queue: scope.queue });

  it('positional and keyword arguments reach the Python function; results come back', async () => {
    const sum = await send('interop.py.add', { args: [2, 3] });
    const mixed = await send('interop.py.describe', { args: [1, 'two', 3, 4], kwargs: { flag: true, nested: { list: [1, null], text: 'naïve ✓' } } });
    const kwOnly = await send('interop.py.describe', { kwargs: { a: 'only-kw' } });
    const kwBoth = await send('interop.py.add', { kwargs: { y: 10, x: 5 } });

    assert.equal(await sum.get({ timeout: WAIT_MS }), 5, `python worker log:\n${worker.log()}`);
    assert.deepEqual(await mixed.get({ timeout: WAIT_MS }), { a: 1, b: 'two', rest: [3, 4], extra: { flag: true, nested: { list: [1, null], text: 'naïve ✓' } } });
    assert.deepEqual(await kwOnly.get({ timeout: WAIT_MS }), { a: 'only-kw', b: 2, rest: [], extra: {} });
    assert.equal(await kwBoth.get({ timeout: WAIT_MS }), 15);

    // Celery's extended result fields, as the Python worker stored them.
    const meta = await sum.meta();
    assert.equal(meta.status, 'SUCCESS');
    assert.equal(meta.name, 'interop.py.add');
    assert.deepEqual(meta.args, [2, 3]);
    assert.equal(meta.queue, scope.queue);
    assert.match(String(meta.worker), new RegExp(`^${worker.name}@`));
  });

  it('a Python ValueError arrives as RemoteTaskError "ValueError" with its message', async () => {
    const failing = await send('interop.py.fail', { args: ['the value 7 is not allowed'] });
    const error = await failing.get({ timeout: WAIT_MS }).then(
      () => assert.fail('the task should have failed'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof RemoteTaskError, `got ${String(error)}`);
    assert.equal(error.name, 'ValueError');
    assert.equal(error.excType, 'ValueError');
    assert.equal(error.excModule, 'builtins');
    assert.deepEqual(error.excArgs, ['the value 7 is not allowed']);
    assert.equal(error.message, 'the value 7 is not allowed');
    assert.equal(error.taskId, failing.id);
    assert.match(error.remoteTraceback ?? '', /ValueError: the value 7 is not allowed/);
    assert.equal(await failing.state(), 'FAILURE');

    // A wrong call fails inside Python with its TypeError, not silently.
    const wrong = await send('interop.py.add', { args: [1], kwargs: { z: 2 } });
    const typeError = await wrong.get({ timeout: WAIT_MS }).then(
      () => assert.fail('the call should have failed'),
      (err: unknown) => err,
    );
    assert.ok(typeError instanceof RemoteTaskError);
    assert.equal(typeError.name, 'TypeError');
    assert.match(typeError.message, /unexpected keyword argument 'z'/);
  });
});
