/**
 * Concurrency slots and result reporting: a finished task body frees its slot at once, while its
 * result is still being written; at most `prefetch` (concurrency × prefetchMultiplier) finished
 * tasks may be reporting at a time; a warm shutdown waits for those writes.
 *
 * The result backend is the memory backend behind a gate whose `set()` calls the test holds open
 * and releases. Tasks are early-ack (the default), so the broker's own prefetch does not bound
 * anything here: only the worker's reporting limit does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { States, type App } from '../src/index.js';
import { HoldingBackend, memoryApp, sleep, startWorker, until } from './helpers.js';


/**
 * An app on a holding backend with one task, `body`, that counts bodies started, running and
 * finished, and notes which result writes were held as each body started.
 */
function setup(bodyKind: 'async' | 'sync' = 'async') {
  const backend = new HoldingBackend();
  const app: App = memoryApp(undefined, { backend });
  const counts = { started: 0, running: 0, maxRunning: 0, finished: 0 };
  const heldAtStart = new Map<string, string[]>();
  app.task('body', (ctx) => {
    counts.started++;
    heldAtStart.set(ctx.id, backend.held.map((h) => h.taskId));
    counts.running++;
    counts.maxRunning = Math.max(counts.maxRunning, counts.running);
    const end = () => {
      counts.running--;
      counts.finished++;
      return ctx.id;
    };
    return bodyKind === 'sync' ? end() : sleep(5).then(end);
  });
  return { app, backend, counts, heldAtStart };
}

test('at concurrency 1 bodies never overlap, yet the next body starts while the last result is still being written', async () => {
  const { app, backend, counts, heldAtStart } = setup();
  const { stop } = startWorker(app, { concurrency: 1 });
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await app.sendTask('body'));
  const [first, second, third] = results.map((r) => r.id);
  // Every write stays held until releaseAll() below, so no result is stored while bodies run...
  await until(() => counts.finished >= 3, 'all three bodies to finish');
  assert.equal(counts.maxRunning, 1, 'bodies overlapped at concurrency 1');
  assert.deepEqual(backend.held.map((h) => h.taskId), [first, second, third]);
  assert.equal(await backend.inner.get(first!), null);
  // ...and each body started while the results before it were still being written.
  assert.deepEqual(heldAtStart.get(second!), [first]);
  assert.deepEqual(heldAtStart.get(third!), [first, second]);
  backend.releaseAll();
  for (const r of results) assert.equal(await r.get({ timeout: 5000 }), r.id);
  await stop();
  await app.close();
});

for (const bodyKind of ['async', 'sync'] as const) {
  test(`at most prefetch (1 × 2) finished tasks report at once; the next starts when a write completes (${bodyKind} body)`, async () => {
    const { app, backend, counts } = setup(bodyKind);
    const { stop } = startWorker(app, { concurrency: 1, prefetchMultiplier: 2 });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => app.sendTask('body')));
    await until(() => counts.finished >= 2, 'two bodies to finish');
    await sleep(50); // room for a third to start, if the worker would start it
    assert.equal(counts.started, 2, 'a third body started while two results were unwritten');
    assert.equal(backend.held.length, 2);

    backend.releaseOldest();
    await until(() => counts.finished >= 3, 'a third body to finish once a write completed');
    await sleep(50);
    assert.equal(counts.started, 3, 'only one more body may start per completed write');
    assert.equal(backend.held.length, 2);

    backend.releaseAll();
    for (const r of results) {
      assert.equal(await r.get({ timeout: 5000 }), r.id);
      assert.equal(await r.state(), States.SUCCESS);
    }
    assert.equal(counts.maxRunning, 1);
    await stop();
    await app.close();
  });
}

test('a warm shutdown waits for result writes in flight, and the results are stored', async () => {
  const { app, backend, counts } = setup();
  const { worker, stop } = startWorker(app, { concurrency: 1 });
  const results = await Promise.all([1, 2].map(() => app.sendTask('body')));
  await until(() => backend.held.length >= 2, 'both bodies to finish');

  const shutdown = worker.shutdown();
  let shutDown = false;
  void shutdown.then(() => (shutDown = true));
  await sleep(100);
  assert.equal(shutDown, false, 'shutdown resolved while result writes were still held');
  assert.equal(worker.state, 'stopping');
  for (const r of results) assert.equal(await backend.inner.get(r.id), null);

  backend.releaseAll();
  await shutdown;
  assert.equal(worker.state, 'stopped');
  for (const r of results) {
    const meta = await backend.inner.get(r.id);
    assert.equal(meta?.status, States.SUCCESS);
    assert.equal(meta?.result, r.id);
  }
  await stop();
  await app.close();
});
