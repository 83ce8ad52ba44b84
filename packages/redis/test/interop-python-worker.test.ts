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
import type { App } from '@celeriac/core';
import { InteropScope, interopSkipReason, WAIT_MS, type Started } from './interop-fixture.js';
import { checkPythonFailures } from './interop-checks.js';

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
    await checkPythonFailures(send, WAIT_MS);
  });
});
