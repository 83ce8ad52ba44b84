import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { killStarted, runCli, sandbox, startWorker, type RunningCli } from './cli-harness.js';

const box = sandbox();
let worker: RunningCli;

before(async () => {
  worker = await startWorker(box.env, ['-c', '2', '--progress-interval', '0.2']);
});
after(() => {
  killStarted();
  box.remove();
});

describe('celeriac worker + celeriac call', () => {
  it('call --wait prints the task id, then the result', async () => {
    const run = await runCli(['call', 'test.add', '--args', '[2, 3]', '--wait', '--timeout', '30'], box.env);
    assert.equal(run.code, 0, run.stderr);
    const [id, result, ...rest] = run.stdout.trimEnd().split('\n');
    assert.match(id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(result, '5');
    assert.deepEqual(rest, []);
  });

  it('keyword arguments reach the declared params', async () => {
    const run = await runCli(['call', 'test.add', '--kwargs', '{"x": 40, "y": 2}', '--wait', '--timeout', '30'], box.env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trimEnd().split('\n')[1], '42');
  });

  it('call without --wait prints only the id, and result --wait reports it', async () => {
    const call = await runCli(['call', 'test.add', '--args', '[1, 1]'], box.env);
    assert.equal(call.code, 0, call.stderr);
    const id = call.stdout.trim();
    const result = await runCli(['result', id, '--wait', '--timeout', '30'], box.env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^id: ${id}$`, 'm'));
    assert.match(result.stdout, /^task: test\.add$/m);
    assert.match(result.stdout, /^state: SUCCESS$/m);
    assert.match(result.stdout, /^result: 2$/m);
  });

  it('a failed task: call --wait exits non-zero with the error, result shows the exception', async () => {
    const call = await runCli(['call', 'test.fail', '--wait', '--timeout', '30'], box.env);
    assert.equal(call.code, 1);
    assert.match(call.stderr, /^celeriac: CELERIAC_E_TASK_FAILED \w+: out of range on purpose$/m);
    const id = call.stdout.trim().split('\n')[0]!;
    const result = await runCli(['result', id, '--json'], box.env);
    const meta = JSON.parse(result.stdout) as { status: string; task_id: string };
    assert.equal(meta.status, 'FAILURE');
    assert.equal(meta.task_id, id);
  });

  it('result of an unknown id is PENDING, not an error', async () => {
    const run = await runCli(['result', '00000000-0000-0000-0000-000000000000'], box.env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^state: PENDING$/m);
  });

  it('result --wait gives up after --timeout with a clear error', async () => {
    const run = await runCli(['result', '00000000-0000-0000-0000-000000000001', '--wait', '--timeout', '0.2'], box.env);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^celeriac: CELERIAC_E_RESULT_TIMEOUT task 00000000-0000-0000-0000-000000000001 was not ready within 200 ms$/m);
  });

  it('the worker prints a progress line with its counters', async () => {
    const line = await worker.waitFor(/INFO progress: \d+ processed \(\d+ succeeded, 1 failed, 0 retried\), [\d.]+ tasks\/s/);
    assert.match(line, /progress: [3-9] processed/);
  });
});
