/**
 * A celeriac client (App: broker = this file's RabbitMQ vhost, backend `rpc://`) calls tasks
 * that a real Python Celery 5.2 worker runs (`celery worker -P threads -c 2 --without-mingle
 * --without-gossip --without-heartbeat`, fixtures/py_amqp_interop_worker.py, backend `rpc://`),
 * and reads their results and errors, which the Python worker publishes to the celeriac app's
 * reply queue (the `reply_to` celeriac put on each task message):
 * - positional and keyword arguments map onto the Python signature (`*rest`, `**extra` too);
 * - a Python ValueError arrives as a RemoteTaskError named `ValueError` with its message, module
 *   and Python traceback; a wrong call fails inside Python with its TypeError;
 * - a Python task that retries once (Celery's `self.retry`) then succeeds: the retried message
 *   kept celeriac's reply_to, so the value of the second run comes back;
 * - a Python task's PROGRESS state (`update_state`) and its meta are seen by the celeriac client
 *   while the task runs, then the final value.
 *
 * Runs in a RabbitMQ vhost of its own (deleted afterwards). Skipped, with the reason, when
 * RabbitMQ or python3-celery is missing and CI is unset.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { App } from '@celeriac/core';
import { AmqpInteropScope, interopSkipReason, WAIT_MS, type Started } from './interop-fixture.js';
import { checkPythonFailures } from '../../redis/test/interop-checks.js';

const skip = await interopSkipReason();
const RPC = 'rpc://';

describe('interop over AMQP: a celeriac client calls Python Celery 5.2 tasks, results over rpc://', { skip, timeout: 170_000 }, () => {
  const scope = new AmqpInteropScope('py-worker');
  let app: App;
  let worker: Started;
  before(async () => {
    await scope.create();
    worker = await scope.startPythonWorker(RPC);
    app = scope.app(RPC);
    await app.connect();
  });
  after(async () => {
    await app?.close();
    await scope.cleanup();
  });

  const send = (name: string, options: { args?: unknown[]; kwargs?: Record<string, unknown> } = {}) => app.sendTask(name, { ...options, taskId: scope.taskId(), queue: scope.queue });

  it('positional and keyword arguments reach the Python function; results come back', async () => {
    const sum = await send('interop.py.add', { args: [2, 3] });
    const mixed = await send('interop.py.describe', { args: [1, 'two', 3, 4], kwargs: { flag: true, nested: { list: [1, null], text: 'naïve ✓' } } });
    const kwOnly = await send('interop.py.describe', { kwargs: { a: 'only-kw' } });
    const kwBoth = await send('interop.py.add', { kwargs: { y: 10, x: 5 } });

    assert.equal(await sum.get({ timeout: WAIT_MS }), 5, `python worker log:\n${worker.log()}`);
    assert.deepEqual(await mixed.get({ timeout: WAIT_MS }), { a: 1, b: 'two', rest: [3, 4], extra: { flag: true, nested: { list: [1, null], text: 'naïve ✓' } } });
    assert.deepEqual(await kwOnly.get({ timeout: WAIT_MS }), { a: 'only-kw', b: 2, rest: [], extra: {} });
    assert.equal(await kwBoth.get({ timeout: WAIT_MS }), 15);
    assert.equal(await sum.state(), 'SUCCESS');
  });

  it('a Python ValueError arrives as RemoteTaskError "ValueError" with its message and traceback', async () => {
    await checkPythonFailures(send, WAIT_MS);
  });

  it('a Python task that retries once then succeeds: the second run\'s value comes back', async () => {
    const flaky = await send('interop.py.flaky');
    const value = (await flaky.get({ timeout: WAIT_MS })) as { ranWithRetries: number; worker: string };
    assert.equal(value.ranWithRetries, 1);
    assert.match(value.worker, new RegExp(`^${worker.name}@`));
    assert.equal(await flaky.state(), 'SUCCESS');
  });

  it('the celeriac client sees a Python task\'s PROGRESS state and meta while it runs', async () => {
    const release = `release-${scope.taskId()}`;
    const running = await send('interop.py.progress', { args: [release] });
    // Wait for any state to arrive on the reply queue: PROGRESS unless the task already ended.
    const deadline = Date.now() + WAIT_MS;
    let state = await running.state();
    while (state === 'PENDING' && Date.now() < deadline) {
      await sleep(20);
      state = await running.state();
    }
    assert.equal(state, 'PROGRESS', `python worker log:\n${worker.log()}`);
    const info = (await running.info()) as { step: number; of: number; worker: string };
    assert.equal(info.step, 1);
    assert.equal(info.of, 2);
    assert.match(info.worker, new RegExp(`^${worker.name}@`));
    await scope.release(release);
    assert.equal(await running.get({ timeout: WAIT_MS }), 'released');
    assert.equal(await running.state(), 'SUCCESS');
  });
});
