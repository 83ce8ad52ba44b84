import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { eventually, killStarted, runCli, sandbox, startWorker } from './cli-harness.js';

const box = sandbox();
after(() => {
  killStarted();
  box.remove();
});

interface ListedEntry {
  id: string;
  queue: string;
  code: string;
  task: string | null;
  taskId: string | null;
}

async function listJson(): Promise<ListedEntry[]> {
  const run = await runCli(['dead-letters', 'list', '--json'], box.env);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ListedEntry);
}

it('an unknown task is dead-lettered, listed, replayable and deletable', async () => {
  const worker = await startWorker(box.env);
  const call = await runCli(['call', 'no.such.task', '--args', '[1]'], box.env);
  const taskId = call.stdout.trim();
  const result = await runCli(['result', taskId, '--wait', '--timeout', '30'], box.env);
  assert.match(result.stdout, /^exception: NotRegistered: no\.such\.task$/m);
  const [entry] = await eventually(async () => {
    const entries = await listJson();
    return entries.length ? entries : undefined;
  }, 'the dead letter');
  assert.equal(entry?.code, 'not-registered');
  assert.equal(entry?.task, 'no.such.task');
  assert.equal(entry?.taskId, taskId);
  assert.equal(entry?.queue, 'celery');

  const table = await runCli(['dead-letters', 'list'], box.env);
  assert.match(table.stdout, /^ID\s+QUEUE\s+CODE\s+TASK\s+TASK ID\s+WHEN\s+REASON$/m);
  assert.match(table.stdout, new RegExp(`^${entry!.id}\\s+celery\\s+not-registered\\s+no\\.such\\.task\\s+${taskId}\\s`, 'm'));

  // Stop the worker, so the replayed message stays in the queue where purge can count it.
  worker.child.kill('SIGTERM');
  assert.equal((await worker.exited).code, 0);
  const replay = await runCli(['dead-letters', 'replay', entry!.id], box.env);
  assert.equal(replay.code, 0, replay.stderr);
  assert.equal(replay.stdout.trim(), `replayed ${entry!.id}`);
  assert.deepEqual(await listJson(), []);
  const purge = await runCli(['purge', '-f'], box.env);
  assert.equal(purge.stdout.trim(), 'purged 1 message from celery', 'the replayed message is back on its queue');

  const again = await runCli(['dead-letters', 'replay', entry!.id], box.env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^celeriac: CELERIAC_E_NOT_FOUND dead letter "[0-9a-f-]+" \(see: celeriac dead-letters list\) does not exist$/m);

  // A second unknown task, deleted for good this time.
  const next = await startWorker(box.env);
  await runCli(['call', 'no.such.task.either'], box.env);
  const [second] = await eventually(async () => {
    const entries = await listJson();
    return entries.length ? entries : undefined;
  }, 'the second dead letter');
  const del = await runCli(['dead-letters', 'delete', second!.id], box.env);
  assert.equal(del.stdout.trim(), `deleted ${second!.id}`);
  assert.deepEqual(await listJson(), []);
  next.child.kill('SIGTERM');
  assert.equal((await next.exited).code, 0);
});
