import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { killStarted, runCli, sandbox } from './cli-harness.js';

const box = sandbox();
after(() => {
  killStarted();
  box.remove();
});

async function send(count: number, queue: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const run = await runCli(['call', 'test.add', '--args', `[${i}, 1]`, '-Q', queue], box.env);
    assert.equal(run.code, 0, run.stderr);
  }
}

it('purge -f prints how many messages each queue lost', async () => {
  await send(3, 'celery');
  await send(2, 'other');
  const run = await runCli(['purge', '-f', '-Q', 'celery,other,empty'], box.env);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.stdout.trimEnd().split('\n'), [
    'purged 3 messages from celery',
    'purged 2 messages from other',
    'purged 0 messages from empty',
  ]);
  const again = await runCli(['purge', '-f'], box.env);
  assert.equal(again.stdout.trim(), 'purged 0 messages from celery');
});

it('without -f, purge asks first and removes nothing unless the answer is yes', async () => {
  await send(1, 'celery');
  const declined = await runCli(['purge'], box.env, 'n\n');
  assert.equal(declined.code, 1);
  assert.match(declined.stderr, /Remove 1 message waiting in celery\? There is no undo\. \[y\/N\]/);
  assert.match(declined.stderr, /purge cancelled: nothing was removed/);
  const noAnswer = await runCli(['purge'], box.env, '');
  assert.equal(noAnswer.code, 1, 'end of input is a no');
  const accepted = await runCli(['purge'], box.env, 'y\n');
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.equal(accepted.stdout.trim(), 'purged 1 message from celery');
});
