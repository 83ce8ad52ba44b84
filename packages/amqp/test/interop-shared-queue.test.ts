/**
 * A real Python Celery 5.2 worker (`celery worker -P threads -c 2`, fixtures/py_amqp_interop_worker.py)
 * and a celeriac worker consume ONE RabbitMQ queue side by side. 200 tasks, half sent by a celeriac
 * client and half by a Python client at the same time, each append `{id, worker}` to a Redis list
 * the test owns: every id runs exactly once, every result (Redis backend, Celery's
 * `celery-task-meta-<id>` keys) is SUCCESS and names the worker that ran it, both workers ran some,
 * and nothing is left on the queue.
 *
 * Declarations: the Python worker declares the queue first, the celeriac worker then declares it
 * again (it would fail to start on a PRECONDITION_FAILED), and both clients declare it again as they
 * publish; RabbitMQ shows one durable, non-auto-delete queue without arguments and two consumers.
 *
 * Runs in a RabbitMQ vhost of its own (deleted afterwards); the record list lives under a unique
 * Redis key prefix and the result keys use fresh ids, all deleted afterwards. Skipped, with the
 * reason, when RabbitMQ, python3-celery or Redis is missing and CI is unset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { App } from '@celeriac/core';
import { AmqpInteropScope, interopSkipReason, REDIS_URL, WAIT_MS, type Started } from './interop-fixture.js';
import { checkEachRanOnce } from '../../redis/test/interop-checks.js';

const skip = await interopSkipReason({ redis: true });
const PER_SENDER = 100;

describe('interop over AMQP: a Python worker and a celeriac worker share one queue', { skip, timeout: 170_000 }, () => {
  const scope = new AmqpInteropScope('shared', { redis: true });
  let app: App;
  let workers: { python: Started; celeriac: Started };
  before(async () => {
    await scope.create();
    // One after the other, so that the celeriac worker's declaration meets the one Celery made.
    const python = await scope.startPythonWorker(REDIS_URL);
    const celeriac = await scope.startCeleriacWorker(REDIS_URL);
    workers = { python, celeriac };
    app = scope.app(REDIS_URL);
    await app.connect();
  });
  after(async () => {
    await app?.close();
    await scope.cleanup();
  });

  it('every task, from either client, runs exactly once on one of the two workers', async (t) => {
    const recordKey = scope.key('runs');
    const fromCeleriac = Array.from({ length: PER_SENDER }, () => scope.taskId());
    const fromPython = Array.from({ length: PER_SENDER }, () => scope.taskId());

    // Both clients publish at the same time, while both workers consume.
    await Promise.all([
      app.sendTasks(fromCeleriac.map((taskId) => ({ name: 'interop.record', options: { taskId, args: [recordKey], queue: scope.queue } }))),
      scope.pythonClient(REDIS_URL, 'send', recordKey, JSON.stringify(fromPython)).then((lines) => assert.deepEqual(lines, [{ sent: PER_SENDER }])),
    ]);

    const all = [...fromCeleriac, ...fromPython];
    const diagnostics = () => `python worker log:\n${workers.python.log()}\nceleriac worker log:\n${workers.celeriac.log()}`;
    const values = await Promise.all(
      all.map((id) =>
        app.asyncResult<string>(id).get({ timeout: WAIT_MS }).catch((err: unknown) => {
          throw new Error(`task ${id}: ${(err as Error).message}\n${diagnostics()}`, { cause: err });
        }),
      ),
    );

    // Every run appended before its task returned, so by now every run is recorded.
    const runs = await scope.runs(recordKey);
    const ran = await checkEachRanOnce(runs, all, values, async (id) => (await app.asyncResult(id).state()) as string, { python: workers.python.name, celeriac: workers.celeriac.name });
    t.diagnostic(`ran by python: ${ran.python}, by celeriac: ${ran.celeriac}; hostnames ${ran.hostnames.join(', ')}`);

    // Nothing waits for a second delivery: every message was acknowledged (early acks on both sides).
    assert.equal(await app.broker.size(scope.queue), 0);
    const row = await scope.vhost.queueRow(scope.queue, 'durable', 'auto_delete', 'arguments', 'consumers', 'messages');
    assert.ok(row, `the queue ${scope.queue} exists`);
    const [durable, autoDelete, args, consumers, messages] = row;
    assert.deepEqual({ durable, autoDelete, args, consumers, messages }, { durable: 'true', autoDelete: 'false', args: '[]', consumers: '2', messages: '0' });
  });
});
