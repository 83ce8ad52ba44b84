/**
 * `celeriac dead-letters list | replay | delete` end to end, with a real worker: on the embedded
 * SQLite default, on Redis (a key prefix of the test's own) and on RabbitMQ (a vhost of the test's
 * own), results in the SQLite file. The dead letters are the broker's own: rows in SQLite,
 * celeriac's keys on Redis, messages in `celeriac.dead-letters` carrying their reason on RabbitMQ.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { amqpSkipReason, VhostScope } from '../../amqp/test/amqp-fixture.js';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from '../../redis/test/backend-fixture.js';
import { eventually, killStarted, runCli, sandbox, startWorker } from './cli-harness.js';

const box = sandbox();
const amqpSkip = await amqpSkipReason();
const vhost = new VhostScope();
const redisSkip = await redisSkipReason();
const redisPrefix = uniquePrefix('cli-dead-letters');
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

async function listJson(env: NodeJS.ProcessEnv): Promise<ListedEntry[]> {
  const run = await runCli(['dead-letters', 'list', '--json'], env);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ListedEntry);
}

async function unknownTaskFlow(env: NodeJS.ProcessEnv): Promise<void> {
  const worker = await startWorker(env);
  const call = await runCli(['call', 'no.such.task', '--args', '[1]'], env);
  const taskId = call.stdout.trim();
  const result = await runCli(['result', taskId, '--wait', '--timeout', '30'], env);
  assert.match(result.stdout, /^exception: NotRegistered: no\.such\.task$/m);
  const [entry] = await eventually(async () => {
    const entries = await listJson(env);
    return entries.length ? entries : undefined;
  }, 'the dead letter');
  assert.equal(entry?.code, 'not-registered');
  assert.equal(entry?.task, 'no.such.task');
  assert.equal(entry?.taskId, taskId);
  assert.equal(entry?.queue, 'celery');

  const table = await runCli(['dead-letters', 'list'], env);
  assert.match(table.stdout, /^ID\s+QUEUE\s+CODE\s+TASK\s+TASK ID\s+WHEN\s+REASON$/m);
  assert.match(table.stdout, new RegExp(`^${entry!.id}\\s+celery\\s+not-registered\\s+no\\.such\\.task\\s+${taskId}\\s`, 'm'));

  // Stop the worker, so the replayed message stays in the queue where purge can count it.
  worker.child.kill('SIGTERM');
  assert.equal((await worker.exited).code, 0);
  const replay = await runCli(['dead-letters', 'replay', entry!.id], env);
  assert.equal(replay.code, 0, replay.stderr);
  assert.equal(replay.stdout.trim(), `replayed ${entry!.id}`);
  assert.deepEqual(await listJson(env), []);
  const purge = await runCli(['purge', '-f'], env);
  assert.equal(purge.stdout.trim(), 'purged 1 message from celery', 'the replayed message is back on its queue');

  const again = await runCli(['dead-letters', 'replay', entry!.id], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^celeriac: CELERIAC_E_NOT_FOUND dead letter "[0-9a-f-]+" \(see: celeriac dead-letters list\) does not exist$/m);

  // A second unknown task, deleted for good this time.
  const next = await startWorker(env);
  await runCli(['call', 'no.such.task.either'], env);
  const [second] = await eventually(async () => {
    const entries = await listJson(env);
    return entries.length ? entries : undefined;
  }, 'the second dead letter');
  const del = await runCli(['dead-letters', 'delete', second!.id], env);
  assert.equal(del.stdout.trim(), `deleted ${second!.id}`);
  assert.deepEqual(await listJson(env), []);
  next.child.kill('SIGTERM');
  assert.equal((await next.exited).code, 0);
}

it('sqlite: an unknown task is dead-lettered, listed, replayable and deletable', () => unknownTaskFlow(box.env));

describe('amqp', { skip: amqpSkip }, () => {
  before(() => vhost.create());
  after(() => vhost.cleanup());
  it('amqp: an unknown task is dead-lettered, listed, replayable and deletable', () =>
    unknownTaskFlow({ ...box.env, CELERIAC_BROKER_URL: vhost.url() }));
});

describe('redis', { skip: redisSkip }, () => {
  after(async () => {
    const raw = rawClient();
    await deletePrefixed(raw, redisPrefix);
    raw.disconnect();
  });
  it('redis: an unknown task is dead-lettered, listed, replayable and deletable', () =>
    unknownTaskFlow({ ...box.env, CELERIAC_BROKER_URL: withPrefix(REDIS_URL, redisPrefix) }));
});
