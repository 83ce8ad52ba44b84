/**
 * A real Python Celery 5.2 worker (`celery worker -P threads -c 2`) and a celeriac worker consume
 * one queue side by side on the shared Redis. 400 tasks, half sent by a celeriac client and half
 * by a Python client, each append `{id, worker}` to a list the test owns: every id runs exactly once,
 * every result is SUCCESS and names the worker that ran it, both workers ran some, and nothing is
 * left on the queue or in `unacked`.
 *
 * Broker keys live under the test's prefix on both sides (celeriac's `key_prefix` = kombu's
 * `global_keyprefix`), so the `unacked` hash in play is the test's own; results use Celery's plain
 * `celery-task-meta-<id>` keys with fresh ids. Skipped, with the reason, when Redis or
 * python3-celery is missing and CI is unset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { App } from '@celeriac/core';
import { InteropScope, interopSkipReason, WAIT_MS, type Started } from './interop-fixture.js';
import { checkEachRanOnce, type SharedRun } from './interop-checks.js';

const skip = await interopSkipReason();
const PER_SENDER = 200;

describe('interop: a Python worker and a celeriac worker share one queue', { skip }, () => {
  let scope: InteropScope;
  let app: App;
  let workers: { python: Started; celeriac: Started };
  before(async () => {
    scope = new InteropScope('shared');
    app = scope.app();
    const [python, celeriac] = await Promise.all([scope.startPythonWorker(), scope.startCeleriacWorker()]);
    workers = { python, celeriac };
  });
  after(async () => {
    await app?.close();
    await scope?.cleanup();
  });

  it('every task, from either client, runs exactly once on one of the two workers', async (t) => {
    const recordKey = scope.key('runs');
    const fromCeleriac = Array.from({ length: PER_SENDER }, () => scope.taskId());
    const fromPython = Array.from({ length: PER_SENDER }, () => scope.taskId());

    // Both clients publish at the same time, while both workers consume.
    await Promise.all([
      app.sendTasks(fromCeleriac.map((taskId) => ({ name: 'interop.record', options: { taskId, args: [recordKey], queue: scope.queue } }))),
      scope.pythonClient('send', recordKey, JSON.stringify(fromPython)).then((lines) => assert.deepEqual(lines, [{ sent: PER_SENDER }])),
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
    const runs = (await scope.redis.lrange(recordKey, 0, -1)).map((line) => JSON.parse(line) as SharedRun);
    const ran = await checkEachRanOnce(runs, all, values, async (id) => (await app.asyncResult(id).state()) as string, { python: workers.python.name, celeriac: workers.celeriac.name });
    t.diagnostic(`ran by python: ${ran.python}, by celeriac: ${ran.celeriac}; hostnames ${ran.hostnames.join(', ')}`);

    // Nothing waits for a second delivery: the queue is empty and nothing is held unacknowledged.
    assert.equal(await app.broker.size(scope.queue), 0);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    assert.equal(await scope.redis.zcard(scope.key('unacked_index')), 0);
  });
});
