/**
 * Nothing lost when a worker dies: a real `celeriac worker` child process running late-ack tasks
 * (concurrency 4, prefetch multiplier 4, visibility timeout 2 s) is killed with SIGKILL while it
 * runs and reserves tasks; a second worker process then completes every task. At-least-once:
 * every task id ends SUCCESS and every task ran at least once (each run is recorded in a Redis
 * list under this test's prefix); a task may run twice only if the killed worker held it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { App, silentLogger } from '@celeriac/core';
import { eventually } from '@celeriac/testing';
import { decodeEnvelope } from '@celeriac/redis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './broker-fixture.js';
import { countBy, killStartedWorkers, stopWorker, waitAllSucceeded, WorkerProcess } from './chaos-fixture.js';

const skip = await redisSkipReason();

const TASKS = 200;
/** Long enough that the killed worker is surely mid-run on several tasks when the signal lands. */
const TASK_MS = 100;
const QUEUE = 'chaos-kill';

describe('chaos: kill -9 a worker holding late-ack tasks', { skip }, () => {
  // This test's own prefix on the shared Redis: queues, unacked, results and the run records.
  const prefix = uniquePrefix('chaos-kill');
  const url = `${withPrefix(REDIS_URL, prefix)}&visibility_timeout=2`;
  const runsKey = `${prefix}runs`;
  const env = { CELERIAC_BROKER_URL: url, CELERIAC_RESULT_BACKEND: url, CHAOS_RECORD_URL: REDIS_URL, CHAOS_RUNS_KEY: runsKey };
  const redis = rawClient();
  const producer = new App({ broker: url, backend: url, logger: silentLogger });

  after(async () => {
    await killStartedWorkers();
    await producer.close();
    await deletePrefixed(redis, prefix);
    redis.disconnect();
  });

  it('every task completes after its worker is SIGKILLed; only the tasks it held may run twice', async (t) => {
    const workerArgs = (name: string) => ['-Q', QUEUE, '-c', '4', '--prefetch-multiplier', '4', '-n', `${name}@%h`, '-l', 'info', '--progress-interval', '0'];
    const first = new WorkerProcess(workerArgs('chaos-a'), env);
    await first.waitForLine(/worker chaos-a@\S+ ready/, 30_000);

    const sent = await producer.sendTasks(Array.from({ length: TASKS }, () => ({ name: 'chaos.sleep', options: { args: [TASK_MS], queue: QUEUE } })));
    const ids = sent.map((r) => r.id);

    // Once it has started some tasks (and reserved more), kill it without warning.
    await eventually(async () => (await redis.llen(runsKey)) >= 24, 30_000, 'the first worker to start 24 tasks');
    first.kill('SIGKILL');
    const exit = await first.exited;
    assert.equal(exit.signal, 'SIGKILL');

    // What the dead worker held (running or reserved) is in `unacked` (kombu's `[envelope,
    // exchange, routing key]` entries), under the tasks' ids.
    const heldEntries = await redis.hvals(`${prefix}unacked`);
    const held = new Set(heldEntries.map((text) => {
      const decoded = decodeEnvelope(JSON.stringify((JSON.parse(text) as unknown[])[0]));
      assert.ok(decoded.ok, `an unacked entry is a usable envelope: ${text.slice(0, 200)}`);
      return String(decoded.message.headers['id']);
    }));
    assert.ok(held.size > 0, 'the killed worker held late-ack messages');
    const atKill = await producer.backend!.getMany(ids);
    const doneAtKill = new Set(ids.filter((_, i) => atKill[i]?.status === 'SUCCESS'));
    assert.ok(doneAtKill.size < TASKS, 'the worker was killed before it had finished everything');
    const runsAtKill = (await redis.lrange(runsKey, 0, -1)).map((r) => r.split(' ')[0]!);
    // Started by the dead worker and not finished: these must run again elsewhere.
    const interrupted = new Set(runsAtKill.filter((id) => !doneAtKill.has(id)));
    assert.ok(interrupted.size > 0, 'the worker was killed while tasks were running');
    for (const id of interrupted) assert.ok(held.has(id), `interrupted task ${id} is in unacked`);

    const second = new WorkerProcess(workerArgs('chaos-b'), env);
    const missing = await waitAllSucceeded(producer.backend!, ids, 60_000);
    assert.deepEqual(missing, [], `every task ends SUCCESS; second worker's last lines:\n${second.tail()}`);
    const stopped = await stopWorker(second);
    assert.equal(stopped.code, 0, `the second worker exits 0 after SIGTERM; last lines:\n${second.tail()}`);

    const runs = (await redis.lrange(runsKey, 0, -1)).map((r) => {
      const [id, pid] = r.split(' ');
      return { id: id!, pid: Number(pid) };
    });
    const perTask = countBy(runs.map((r) => r.id));
    assert.deepEqual(ids.filter((id) => !perTask.has(id)), [], 'every task ran at least once');
    assert.deepEqual([...perTask.keys()].filter((id) => !ids.includes(id)), [], 'no run of a task that was not sent');
    const duplicates = [...perTask].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(duplicates.filter((id) => !held.has(id)), [], 'only tasks the killed worker held ran more than once');
    for (const id of interrupted) assert.ok((perTask.get(id) ?? 0) >= 2, `interrupted task ${id} ran again`);
    assert.ok(runs.every((r) => r.pid === first.pid || r.pid === second.pid), 'runs come from the two workers only');
    assert.ok(runs.some((r) => r.pid === second.pid), 'the second worker ran tasks');

    assert.equal(await redis.hlen(`${prefix}unacked`), 0, 'nothing left in unacked');
    assert.equal(await producer.broker.size(QUEUE), 0, 'nothing left on the queue');
    assert.deepEqual(await producer.broker.listDeadLetters(), [], 'nothing dead-lettered');
    t.diagnostic(`held by the killed worker: ${held.size}; interrupted mid-run: ${interrupted.size}; done before the kill: ${doneAtKill.size}`);
    t.diagnostic(`runs: ${runs.length} for ${TASKS} tasks; tasks run more than once: ${duplicates.length} (all among the ${held.size} held)`);
  });
});
