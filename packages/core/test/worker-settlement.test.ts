/** How messages are settled in every ending: Reject, Ignore, failed writes, late progress, cold stops. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ignore, MemoryBackend, MemoryBroker, Reject, States, Worker, type ResultMeta } from '../src/index.js';
import { memoryApp, NoDelayBroker, sleep, startWorker } from './helpers.js';

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('Reject with acksLate requeues or dead-letters; Ignore acks and stores nothing', async () => {
  const broker = new MemoryBroker();
  const app = memoryApp(broker);
  let runs = 0;
  app.task({ name: 'requeue-once', acksLate: true }, (ctx) => {
    runs++;
    if (!ctx.redelivered) throw new Reject('not yet', { requeue: true });
    return 'second time';
  });
  app.task({ name: 'refuse', acksLate: true }, () => {
    throw new Reject('bad input, keep it for a human');
  });
  app.task({ name: 'skip' }, () => {
    throw new Ignore();
  });
  const { worker, stop } = startWorker(app);
  const again = await app.sendTask('requeue-once');
  assert.equal(await again.get({ timeout: 5000 }), 'second time');
  assert.equal(runs, 2);
  const refused = await app.sendTask('refuse');
  const skipped = await app.sendTask('skip');
  await until(async () => (await broker.listDeadLetters()).length === 1, 'the rejected message to be set aside');
  const [letter] = await broker.listDeadLetters();
  assert.equal(letter!.reason.code, 'rejected');
  assert.equal(letter!.reason.message, 'bad input, keep it for a human');
  assert.equal(letter!.message!.headers['id'], refused.id);
  await until(() => worker.stats.received === 4, 'all deliveries');
  await sleep(20);
  assert.equal(await skipped.state(), States.PENDING, 'Ignore stores nothing');
  assert.equal(await broker.size('celery'), 0);
  await stop();
  await app.close();
});

test('a result write that fails is logged, and the message is still settled', async () => {
  class FlakyBackend extends MemoryBackend {
    failures = 1;
    override async set(taskId: string, meta: ResultMeta): Promise<void> {
      if (meta.status === States.SUCCESS && this.failures-- > 0) throw new Error('backend hiccup');
      return super.set(taskId, meta);
    }
  }
  const broker = new MemoryBroker();
  const backend = new FlakyBackend();
  const app = memoryApp(broker, { backend });
  app.task({ name: 'late', acksLate: true }, () => 'ok');
  const { stop } = startWorker(app, { concurrency: 1, prefetchMultiplier: 1 });
  const lost = await app.sendTask('late');
  const next = await app.sendTask('late');
  // With prefetch 1, the second task runs only if the first message was settled.
  assert.equal(await next.get({ timeout: 5000 }), 'ok');
  assert.equal(await lost.state(), States.PENDING);
  await stop();
  await app.close();
});

test('a state update after the task was reported does not replace its final state', async () => {
  const app = memoryApp();
  let late!: Promise<void>;
  app.task({ name: 'overrun', timeLimit: 0.02 }, async (ctx) => {
    await sleep(60);
    late = ctx.progress({ still: 'going' });
    await late;
  });
  const { stop } = startWorker(app);
  const r = await app.sendTask('overrun');
  await assert.rejects(r.get({ timeout: 5000 }), { name: 'TimeLimitExceeded' });
  await until(() => late !== undefined, 'the late progress call');
  await late;
  assert.equal(await r.state(), States.FAILURE);
  await stop();
  await app.close();
});

test('a message with no properties at all is set aside, not left hanging', async () => {
  const broker = new MemoryBroker();
  const app = memoryApp(broker);
  app.task('t', () => 1);
  const { stop } = startWorker(app);
  const raw = { headers: { lang: 'py', task: 't', id: 'x1' }, body: '[[], {}, {}]', contentType: 'application/json', contentEncoding: 'utf-8' };
  await broker.publish(raw as never, { queue: 'celery' });
  assert.equal(await app.asyncResult('x1').get({ timeout: 5000 }), 1);
  const junk = { headers: null, properties: null, body: null, contentType: 'application/json', contentEncoding: 'utf-8' };
  await broker.publish(junk as never, { queue: 'celery' });
  await until(async () => (await broker.listDeadLetters()).length === 1, 'the junk message to be set aside');
  const [letter] = await broker.listDeadLetters();
  assert.match(letter!.reason.code, /^bad-message:/);
  await stop();
  await app.close();
});

test('a cold shutdown does not wait for a task that ignores its signal', async () => {
  const broker = new MemoryBroker();
  const app = memoryApp(broker);
  let started = false;
  app.task({ name: 'stubborn', acksLate: true }, async () => {
    started = true;
    await new Promise(() => undefined); // never settles, and ignores ctx.signal
  });
  await app.sendTask('stubborn');
  const worker = Worker.create(app, { concurrency: 1 });
  const running = worker.run();
  await until(() => started, 'the task to start');
  void worker.shutdown();
  await worker.shutdown({ cold: true });
  await running;
  assert.equal(worker.state, 'stopped');
  assert.equal(await broker.size('celery'), 1, 'the late-ack message went back');
  await app.close();
});

test('the worker reserves at most concurrency × prefetchMultiplier messages, plus held ETA tasks', async () => {
  const broker = new NoDelayBroker(); // the worker itself must hold ETA tasks
  const app = memoryApp(broker);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  app.task('wait', () => gate);
  const origConsume = broker.consume.bind(broker);
  let delivered = 0;
  broker.consume = (queues, onDelivery, options) => origConsume(queues, (d) => (delivered++, onDelivery(d)), options);
  // Two ETA tasks an hour away, sent first: held without taking a place in the prefetch window.
  const later = [await app.sendTask('wait', { countdown: 3600 }), await app.sendTask('wait', { countdown: 3600 })];
  for (let i = 0; i < 20; i++) await app.sendTask('wait');
  const { worker, stop } = startWorker(app, { concurrency: 2, prefetchMultiplier: 2 });
  await until(() => delivered >= 8, 'the prefetch window to fill');
  await sleep(50);
  // 2 held ETA tasks + 2 running (acknowledged early) + 4 reserved.
  assert.equal(delivered, 8);
  release();
  await until(() => worker.stats.succeeded === 20, 'every task due now');
  await stop();
  assert.equal(await broker.size('celery'), 2, 'the held ETA tasks went back at shutdown');
  assert.equal(await later[0]!.state(), States.PENDING);
  await app.close();
});
