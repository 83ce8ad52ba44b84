/**
 * A real Python Celery 5.2 client (fixtures/py_amqp_interop_client.py: broker = this file's
 * RabbitMQ vhost, backend `rpc://`) calls tasks that a celeriac worker (a child process, broker
 * the same vhost, backend `rpc://`) runs, and reads the results with Celery's own AsyncResult,
 * which receives them on its reply queue (the `reply_to` of each task message):
 * - positional and keyword arguments; failures (Python sees the exception type and message: a
 *   RangeError as ValueError, an unknown error class synthesised by name, a wrong keyword as
 *   TypeError);
 * - a retry: the task retries once then succeeds; Python receives RETRY, then SUCCESS;
 * - a countdown (the task does not start before the eta Python sent);
 * - expires: an already-expired call, and a countdown call whose `expires` passes while the
 *   worker holds it, both come back REVOKED ("expired") and never run;
 * - PROGRESS: Python's AsyncResult.state/info show the custom state and its meta while the task
 *   runs (Celery's rpc backend polls the reply queue for the latest state), then SUCCESS.
 *
 * Runs in a RabbitMQ vhost of its own (deleted afterwards); records and release flags are files
 * in a scratch directory. Skipped, with the reason, when RabbitMQ or python3-celery is missing
 * and CI is unset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseIso } from '@celeriac/core';
import { AmqpInteropScope, interopSkipReason, type PyOutcome, type Started } from './interop-fixture.js';
import { argumentAndFailureCalls, checkArgumentsAndFailures } from '../../redis/test/interop-checks.js';

const skip = await interopSkipReason();
const RPC = 'rpc://';

interface Call {
  id: string;
  name: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  countdown?: number;
  expires?: number;
  expired?: boolean;
}

describe('interop over AMQP: a Python Celery 5.2 client calls celeriac tasks, results over rpc://', { skip, timeout: 170_000 }, () => {
  const scope = new AmqpInteropScope('py-client');
  let worker: Started;
  before(async () => {
    await scope.create();
    worker = await scope.startCeleriacWorker(RPC);
  });
  after(() => scope.cleanup());

  /** Sends the calls from Python and returns its AsyncResult view of each, by id. */
  async function callFromPython(calls: Call[]): Promise<Map<string, PyOutcome>> {
    let lines: PyOutcome[];
    try {
      lines = await scope.pythonClient<PyOutcome>(RPC, 'call', JSON.stringify(calls));
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
    assert.equal(sum.raised, undefined);
    assert.deepEqual(sum.states, ['SUCCESS'], 'one result message, on the Python client\'s reply queue');

    checkArgumentsAndFailures(out, ids);
  });

  it('a task that retries once then succeeds: Python receives RETRY, then SUCCESS from the second run', async () => {
    const id = scope.taskId();
    const flaky = (await callFromPython([{ id, name: 'interop.flaky' }])).get(id)!;
    assert.equal(flaky.state, 'SUCCESS');
    assert.deepEqual(flaky.value, { ranWithRetries: 1, worker: worker.name });
    // The retried message kept the Python client's reply_to: both states reached it, in order.
    assert.deepEqual(flaky.states, ['RETRY', 'SUCCESS']);
  });

  it('a countdown call does not start before its eta', async () => {
    const id = scope.taskId();
    const when = (await callFromPython([{ id, name: 'interop.when', countdown: 2 }])).get(id)!;
    assert.equal(when.state, 'SUCCESS');
    assert.ok(when.eta, 'Celery turned the countdown into an eta header');
    const eta = parseIso(when.eta);
    assert.ok(eta, `an eta celeriac can read: ${when.eta}`);
    const value = when.value as { startedMs: number; eta: string | null; worker: string };
    assert.equal(value.worker, worker.name);
    assert.equal(value.eta, eta.toISOString(), 'the task saw the eta Python sent');
    // Same host, same clock; both in whole milliseconds (the eta's microseconds are truncated).
    assert.ok(value.startedMs >= eta.getTime(), `started at ${new Date(value.startedMs).toISOString()}, before the eta ${when.eta}`);
  });

  it('expired calls come back REVOKED and never run', async () => {
    const [past, lapsed] = [scope.taskId(), scope.taskId()];
    const records = scope.key('expired-records');
    const out = await callFromPython([
      // Celery sends an already-expired call with AMQP expiration 0: RabbitMQ hands it to the
      // idle consumer at once, and the worker revokes it on receipt.
      { id: past, name: 'interop.record', args: [records], expired: true },
      // Its expires (5 s) passes while the worker holds it for its countdown (8 s): revoked when due.
      { id: lapsed, name: 'interop.record', args: [records], countdown: 8, expires: 5 },
    ]);
    for (const id of [past, lapsed]) {
      const rev = out.get(id)!;
      assert.equal(rev.state, 'REVOKED', `${id}: ${JSON.stringify(rev)}; worker log:\n${worker.log()}`);
      assert.equal(rev.exception?.type, 'TaskRevokedError');
      assert.deepEqual(rev.exception?.args, ['expired']);
      assert.equal(rev.raised?.type, 'TaskRevokedError');
      assert.deepEqual(rev.states, ['REVOKED']);
    }
    assert.deepEqual(await scope.runs(records), [], 'neither expired task ran');
  });

  it('Python sees the PROGRESS state and its meta while the task runs', async () => {
    const id = scope.taskId();
    const lines = await scope.pythonClient<{ phase: string; state: string; info?: unknown; value?: unknown; states?: string[] }>(RPC, 'progress', id, `release-${id}`);
    const [seen, done] = lines;
    assert.equal(seen?.phase, 'seen');
    assert.equal(seen.state, 'PROGRESS', `Python saw ${seen.state} (${JSON.stringify(seen.info)}); worker log:\n${worker.log()}`);
    assert.deepEqual(seen.info, { step: 1, of: 2, worker: worker.name });
    assert.equal(done?.phase, 'done');
    assert.equal(done.state, 'SUCCESS');
    assert.equal(done.value, 'released');
    // The state Python polled was put back on the reply queue; the SUCCESS came after it.
    assert.equal(done.states?.at(-1), 'SUCCESS');
  });
});
