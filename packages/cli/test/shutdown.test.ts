import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { brokerFromUrl } from '@celeriac/core';
import { eventually, killStarted, runCli, sandbox, startWorker } from './cli-harness.js';

const box = sandbox();
after(() => {
  killStarted();
  box.remove();
});

it('SIGTERM: the worker finishes its running task, gives back the reserved one, and exits 0', async () => {
  const release = join(box.dir, 'release');
  // One slot: the blocking task takes it, so the second task can only be reserved, not started.
  const first = await startWorker(box.env, ['-c', '1', '--prefetch-multiplier', '2']);
  const blocker = (await runCli(['call', 'test.block', '--args', JSON.stringify([release])], box.env)).stdout.trim();
  const waiting = (await runCli(['call', 'test.add', '--args', '[20, 22]'], box.env)).stdout.trim();

  // Wait until the worker holds both: the blocker has started and nothing is left in the queue.
  await eventually(async () => ((await runCli(['result', blocker], box.env)).stdout.includes('state: STARTED') ? true : undefined), 'the blocking task to start');
  const broker = await brokerFromUrl(box.url);
  await broker.connect();
  try {
    await eventually(async () => ((await broker.size('celery')) === 0 ? true : undefined), 'the worker to reserve the second task');

    first.child.kill('SIGTERM');
    await first.waitFor(/SIGTERM received: warm shutdown/);
    // A warm shutdown waits for the running task: let it finish now.
    writeFileSync(release, '');
    const exit = await first.exited;
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(existsSync(release));

    const blocked = await runCli(['result', blocker], box.env);
    assert.match(blocked.stdout, /^state: SUCCESS$/m, 'the running task finished during the warm shutdown');
    const notRun = await runCli(['result', waiting], box.env);
    assert.match(notRun.stdout, /^state: PENDING$/m, 'the reserved task did not run');
    assert.equal(await broker.size('celery'), 1, 'the reserved task is back in the queue');
  } finally {
    await broker.close();
  }

  // The next worker runs it.
  const second = await startWorker(box.env);
  const done = await runCli(['result', waiting, '--wait', '--timeout', '30'], box.env);
  assert.match(done.stdout, /^result: 42$/m);
  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
});
