/** Countdown, ETA, expiry, priorities, concurrency and the retry message on the wire. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTaskMessage, parseIso, States } from '../src/index.js';
import { memoryApp, NoDelayBroker, RecordingBroker, sleep, startWorker } from './helpers.js';

test('countdown and eta tasks do not run before they are due (worker holds them when the broker cannot)', async () => {
  for (const broker of [new RecordingBroker(), new NoDelayBroker()]) {
    const app = memoryApp(broker);
    const startedAt = new Map<string, number>();
    app.task('stamp', (ctx) => {
      startedAt.set(ctx.id, Date.now());
      return ctx.eta?.toISOString() ?? null;
    });
    const { stop } = startWorker(app, { concurrency: 1, prefetchMultiplier: 1 });
    const sentAt = Date.now();
    const byCountdown = await app.sendTask('stamp', { countdown: 0.3 });
    const eta = new Date(Date.now() + 200);
    const byEta = await app.sendTask('stamp', { eta });
    // A task sent after the held ones still runs first: holding does not block the slot.
    const now = await app.sendTask('stamp');
    await now.get({ timeout: 5000 });
    assert.ok(typeof (await byCountdown.get({ timeout: 5000 })) === 'string');
    assert.equal(await byEta.get({ timeout: 5000 }), eta.toISOString());
    assert.ok(startedAt.get(byCountdown.id)! >= sentAt + 300);
    assert.ok(startedAt.get(byEta.id)! >= eta.getTime());
    await stop();
    await app.close();
  }
});

test('an expired task is not run and is stored as REVOKED (expired)', async () => {
  const app = memoryApp();
  let ran = false;
  app.task('never', () => {
    ran = true;
  });
  const r = await app.sendTask('never', { expires: new Date(Date.now() - 1000) });
  const { stop } = startWorker(app);
  await assert.rejects(r.get({ timeout: 5000 }), (err: Error) => err.name === 'TaskRevokedError' && err.message === 'expired');
  assert.equal(await r.state(), States.REVOKED);
  assert.equal(ran, false);
  await stop();
  await app.close();
});

test('higher priorities run first on the memory broker; concurrency bounds parallel tasks', async () => {
  const app = memoryApp();
  const order: number[] = [];
  let running = 0;
  let maxRunning = 0;
  app.task('p', async (_ctx, n: number) => {
    order.push(n);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await sleep(5);
    running--;
  });
  const results = [];
  for (const [n, priority] of [[0, 0], [9, 9], [5, 5], [1, 1]] as const) results.push(await app.sendTask('p', { args: [n], priority }));
  const { stop } = startWorker(app, { concurrency: 1, prefetchMultiplier: 1 });
  for (const r of results) await r.get({ timeout: 5000 });
  assert.deepEqual(order, [9, 5, 1, 0]);
  await stop();

  const many = [];
  for (let i = 0; i < 20; i++) many.push(await app.sendTask('p', { args: [i] }));
  const second = startWorker(app, { concurrency: 3 });
  for (const r of many) await r.get({ timeout: 5000 });
  assert.equal(maxRunning, 3);
  await second.stop();
  await app.close();
});

test('a retry is a new message: same id, retries + 1, eta with microseconds, parent_id, same queue', async () => {
  const broker = new RecordingBroker();
  const app = memoryApp(broker);
  app.task('once', (ctx) => (ctx.retries === 0 ? ctx.retry({ countdown: 0.01 }) : 'ok'));
  const { stop } = startWorker(app, { queues: ['q-retry'] });
  const r = await app.sendTask('once', { queue: 'q-retry', priority: 4, headers: { trace: 'abc' } });
  assert.equal(await r.get({ timeout: 5000 }), 'ok');
  const sent = broker.published.map((p) => ({ m: decodeTaskMessage(p.message), queue: p.options.queue, priority: p.options.priority }));
  assert.equal(sent.length, 2);
  const [first, retry] = sent as [typeof sent[0], typeof sent[0]];
  assert.equal(retry.m.headers.id, first.m.headers.id);
  assert.equal(retry.m.headers.retries, 1);
  assert.equal(retry.m.headers.parent_id, first.m.headers.id);
  assert.equal(retry.m.headers.root_id, first.m.headers.id);
  assert.equal(retry.m.headers['trace'], 'abc');
  assert.match(retry.m.headers.eta!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
  assert.ok(parseIso(retry.m.headers.eta!)!.getTime() > parseIso(first.m.headers.eta ?? '1970-01-01T00:00:00')!.getTime());
  assert.equal(retry.queue, 'q-retry');
  assert.equal(retry.priority, 4);
  await stop();
  await app.close();
});

test('ignoreResult stores nothing; result expiry removes results', async () => {
  const app = memoryApp();
  app.task('quiet', () => 1);
  const { worker, stop } = startWorker(app);
  const ignored = await app.sendTask('quiet', { ignoreResult: true });
  const stored = await app.sendTask('quiet');
  await stored.get({ timeout: 5000 });
  for (let i = 0; i < 200 && worker.stats.succeeded < 2; i++) await sleep(5);
  assert.equal(worker.stats.succeeded, 2, 'both ran');
  assert.equal(await ignored.state(), States.PENDING);
  await stop();
  await app.close();

  const shortLived = memoryApp(undefined, { resultExpires: 0.05 });
  shortLived.task('quiet', () => 1);
  const w = startWorker(shortLived);
  const r = await shortLived.sendTask('quiet');
  assert.equal(await r.get({ timeout: 5000 }), 1);
  await sleep(80);
  assert.equal(await r.state(), States.PENDING);
  await w.stop();
  await shortLived.close();
});

test('one worker consumes several queues; trackStarted stores STARTED with pid and hostname', async () => {
  const app = memoryApp();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  app.task({ name: 'where', trackStarted: true }, async (ctx) => {
    if (ctx.queue === 'slow') await gate;
    return ctx.queue;
  });
  const { stop } = startWorker(app, { queues: ['fast', 'slow'], hostname: 'w1@test' });
  const fast = await app.sendTask('where', { queue: 'fast' });
  const slow = await app.sendTask('where', { queue: 'slow' });
  assert.equal(await fast.get({ timeout: 5000 }), 'fast');
  let meta = await slow.meta();
  for (let i = 0; i < 200 && meta.status !== States.STARTED; i++) {
    await sleep(5);
    meta = await slow.meta();
  }
  assert.equal(meta.status, States.STARTED);
  assert.deepEqual(meta.result, { pid: process.pid, hostname: 'w1@test' });
  release();
  assert.equal(await slow.get({ timeout: 5000 }), 'slow');
  await stop();
  await app.close();
});
