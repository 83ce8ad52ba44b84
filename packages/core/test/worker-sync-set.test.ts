/**
 * Review (low): a backend whose set() is a plain function returning nothing (JavaScript users;
 * not what the ResultBackend type says, but `await backend.set()` used to tolerate it). The success
 * fast path now hands backend.set()'s return value to WorkSet.add(), whose `work.then` throws: the
 * worker's `reporting` and the WorkSet count were already incremented and are never decremented,
 * so after `prefetch` tasks the worker stops running tasks, and a shutdown waits for ever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBackend, type ResultBackend, type ResultMeta } from '../src/index.js';
import { memoryApp, sleep, startWorker } from './helpers.js';

class SyncSetBackend implements ResultBackend {
  readonly inner = new MemoryBackend();
  readonly capabilities = this.inner.capabilities;
  readonly stored = new Map<string, ResultMeta>();
  set(taskId: string, meta: ResultMeta): Promise<void> {
    this.stored.set(taskId, meta);
    return undefined as unknown as Promise<void>;
  }
  connect = () => this.inner.connect();
  get = async (taskId: string) => this.stored.get(taskId) ?? null;
  getMany = async (taskIds: readonly string[]) => taskIds.map((id) => this.stored.get(id) ?? null);
  delete = async (taskId: string) => void this.stored.delete(taskId);
  watch = (taskId: string) => this.inner.watch(taskId);
  close = () => this.inner.close();
}

test('review: a backend whose set() returns nothing does not stall the worker', async () => {
  const backend = new SyncSetBackend();
  const app = memoryApp(undefined, { backend });
  let runs = 0;
  app.task('review.count', () => ++runs);
  const { stop } = startWorker(app, { concurrency: 1, prefetchMultiplier: 1 });
  for (let i = 0; i < 3; i++) await app.sendTask('review.count');
  for (let i = 0; i < 200 && runs < 3; i++) await sleep(5);
  // Stopped only when every task ran: a stalled worker's shutdown would wait (and keep this
  // process alive) for ever.
  assert.equal(runs, 3, `only ${runs} of 3 tasks ran`);
  const stopped = await Promise.race([stop().then(() => true), sleep(2000).then(() => false)]);
  assert.ok(stopped, 'the warm shutdown did not finish');
  await app.close();
});
