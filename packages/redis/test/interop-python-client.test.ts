/**
 * A real Python Celery 5.2 client (fixtures/py_interop_client.py) calls tasks that a celeriac
 * worker (a child process) runs, over the shared Redis, and reads the results with Celery's own
 * AsyncResult: positional and keyword arguments, failures (Python sees the exception type and
 * message), a retry, a countdown, an already-expired call (REVOKED) and a custom PROGRESS state.
 *
 * Broker keys live under the test's prefix on both sides (kombu's `global_keyprefix` = celeriac's
 * `key_prefix`); results use Celery's plain `celery-task-meta-<id>` keys with fresh ids. Skipped,
 * with the reason, when Redis or python3-celery is missing and CI is unset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseIso } from '@celeriac/core';
import { InteropScope, interopSkipReason, type PyOutcome, type Started } from './interop-fixture.js';
import { argumentAndFailureCalls, checkArgumentsAndFailures } from './interop-checks.js';

const skip = await interopSkipReason();

interface Call {
  id: string;
  name: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  countdown?: number;
  expired?: boolean;
}

describe('interop: a Python Celery 5.2 client calls celeriac tasks', { skip }, () => {
  let scope: InteropScope;
  let worker: Started;
  before(async () => {
    scope = new InteropScope('py-client');
    worker = await scope.startCeleriacWorker();
  });
  after(() => scope?.cleanup());

  /** Sends the calls from Python and returns its AsyncResult view of each, by id. */
  async function callFromPython(calls: Call[]): Promise<Map<string, PyOutcome>> {
    let lines: PyOutcome[];
    try {
      lines = await scope.pythonClient<PyOutcome>('call', JSON.stringify(calls));
    } catch (err) {
      // The worker's side of a call that failed in Python (a timeout, say) is in its log.
      throw new Error(`${(err as Error).message}\nceleriac worker log:\n${worker.log()}`, { cause: err });
    }
    assert.equal(lines.length, calls.length, `one outcome per call; celeriac worker log:\n${worker.log()}`);
    return new Map(lines.map((l) => [l.id, l]));
  }

  it('arguments, keyword arguments and failures come back to Python', async () => {
    const { ids, calls } = argumentAndFailureCalls(() => scope.taskId());
    const out = await callFromPython(calls);

    const sum = out.get(ids.add)!;
    assert.equal(sum.state, 'SUCCESS');
    assert.equal(sum.value, 5);
    assert.equal(sum.retries, 0);
    assert.equal(sum.worker, worker.name, 'the celeriac worker ran it');
    assert.equal(sum.raised, undefined);

    checkArgumentsAndFailures(out, ids);
  });

  it('a task that retries once then succeeds: Python sees SUCCESS and one retry', async () => {
    const id = scope.taskId();
    const flaky = (await callFromPython([{ id, name: 'interop.flaky' }])).get(id)!;
    assert.equal(flaky.state, 'SUCCESS');
    assert.deepEqual(flaky.value, { ranWithRetries: 1 });
    assert.equal(flaky.retries, 1);
  });

  it('a countdown call does not run before its eta; an already-expired call is REVOKED without running', async () => {
    const [late, expired] = [scope.taskId(), scope.taskId()];
    const records = scope.key('expired-records');
    const out = await callFromPython([
      { id: late, name: 'interop.when', countdown: 2 },
      { id: expired, name: 'interop.record', args: [records], expired: true },
    ]);

    const when = out.get(late)!;
    assert.equal(when.state, 'SUCCESS');
    assert.ok(when.eta, 'Celery turned the countdown into an eta header');
    const eta = parseIso(when.eta);
    assert.ok(eta, `an eta celeriac can read: ${when.eta}`);
    const value = when.value as { startedMs: number; eta: string | null };
    assert.equal(value.eta, eta.toISOString(), 'the task saw the eta Python sent');
    // Same host, same clock; both in whole milliseconds (the eta's microseconds are truncated).
    assert.ok(value.startedMs >= eta.getTime(), `started at ${new Date(value.startedMs).toISOString()}, before the eta ${when.eta}`);

    const rev = out.get(expired)!;
    assert.equal(rev.state, 'REVOKED');
    assert.equal(rev.exception?.type, 'TaskRevokedError');
    assert.deepEqual(rev.exception?.args, ['expired']);
    assert.equal(rev.raised?.type, 'TaskRevokedError');
    assert.deepEqual(await scope.redis.lrange(records, 0, -1), [], 'the expired task never ran');
  });

  it('Python sees the PROGRESS state and its meta while the task runs', async () => {
    const id = scope.taskId();
    const lines = await scope.pythonClient<{ phase: string; state: string; info?: unknown; value?: unknown }>('progress', id, scope.key(`release-${id}`));
    const [seen, done] = lines;
    assert.equal(seen?.phase, 'seen');
    assert.equal(seen.state, 'PROGRESS', `Python saw ${seen.state} (${JSON.stringify(seen.info)}); worker log:\n${worker.log()}`);
    assert.deepEqual(seen.info, { step: 1, of: 2, worker: worker.name });
    assert.equal(done?.phase, 'done');
    assert.equal(done.state, 'SUCCESS');
    assert.equal(done.value, 'released');
  });
});
