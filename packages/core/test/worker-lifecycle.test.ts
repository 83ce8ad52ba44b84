/** Shutdown, acknowledgement timing, and messages that must be set aside. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBroker, States, Worker, type RawMessage } from '../src/index.js';
import { memoryApp, sleep, startWorker } from './helpers.js';

function rawTask(overrides: Partial<RawMessage> & { headers?: Record<string, unknown> } = {}): RawMessage {
  return {
    headers: { lang: 'py', task: 'ok', id: crypto.randomUUID(), ...overrides.headers },
    properties: { delivery_mode: 2, ...overrides.properties },
    body: overrides.body ?? JSON.stringify([[], {}, {}]),
    contentType: overrides.contentType ?? 'application/json',
    contentEncoding: 'utf-8',
  };
}

test('malformed and unknown messages are set aside with their reason; the worker keeps going', async () => {
  const broker = new MemoryBroker();
  const app = memoryApp(broker);
  app.task('ok', () => 'fine');
  const { worker, stop } = startWorker(app);
  const unknownId = crypto.randomUUID();
  const bad: Array<[string, RawMessage]> = [
    ['bad-message:body-not-json', rawTask({ body: '{not json' })],
    ['bad-message:body-shape', rawTask({ body: JSON.stringify([[], {}]) })],
    ['bad-message:content-type', rawTask({ contentType: 'application/x-python-serialize' })],
    ['bad-message:missing-header', rawTask({ headers: { id: undefined } })],
    ['bad-message:bad-header', rawTask({ headers: { eta: 'tomorrow-ish' } })],
    ['bad-message:bad-kwargs', rawTask({ body: JSON.stringify([[], null, {}]) })],
    ['not-registered', rawTask({ headers: { task: 'proj.nope', id: unknownId } })],
  ];
  for (const [, message] of bad) await broker.publish(message, { queue: 'celery' });
  const good = await app.sendTask('ok');
  assert.equal(await good.get({ timeout: 5000 }), 'fine');
  for (let i = 0; i < 100 && (await broker.listDeadLetters()).length < bad.length; i++) await sleep(10);
  const letters = await broker.listDeadLetters();
  assert.deepEqual(letters.map((l) => l.reason.code).sort(), bad.map(([code]) => code).sort());
  assert.ok(letters.every((l) => l.queue === 'celery' && l.message !== null && l.reason.message.length > 0));
  // Celery also stores FAILURE NotRegistered for an unknown task.
  const meta = await app.asyncResult(unknownId).meta();
  assert.equal(meta.status, States.FAILURE);
  assert.deepEqual(meta.result, { exc_type: 'NotRegistered', exc_message: ['proj.nope'], exc_module: 'celery.exceptions' });
  assert.equal(worker.stats.deadLettered, bad.length);
  assert.equal(worker.state, 'running');

  // Once the task exists, the dead-lettered message can be replayed and runs.
  app.task('proj.nope', () => 'now known');
  const entry = letters.find((l) => l.reason.code === 'not-registered')!;
  assert.equal(await broker.replayDeadLetter(entry.id), true);
  await sleep(0);
  for (let i = 0; i < 100 && (await app.asyncResult(unknownId).state()) !== States.SUCCESS; i++) await sleep(10);
  assert.equal(await app.asyncResult(unknownId).get({ timeout: 1000 }), 'now known');
  await stop();
  await app.close();
});

test('warm shutdown finishes running tasks and gives reserved ones back to the queue', async () => {
  const broker = new MemoryBroker();
  const app = memoryApp(broker);
  const started: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  app.task('slow', async (_ctx, n: number) => {
    started.push(n);
    await gate;
    return n;
  });
  const results = [];
  for (let i = 0; i < 6; i++) results.push(await app.sendTask('slow', { args: [i] }));
  const worker = Worker.create(app, { concurrency: 2, prefetchMultiplier: 2 });
  const running = worker.run();
  while (started.length < 2) await sleep(5);
  const stopping = worker.shutdown();
  assert.equal(worker.state, 'stopping');
  release();
  await stopping;
  await running;
  assert.equal(worker.state, 'stopped');
  assert.equal(await results[0]!.get({ timeout: 1000 }), 0);
  assert.equal(await results[1]!.get({ timeout: 1000 }), 1);
  // The four never started: back on the queue for the next worker.
  assert.equal(await broker.size('celery'), 4);
  const next = startWorker(app, { concurrency: 4 });
  for (const r of results) await r.get({ timeout: 5000 });
  await next.stop();
  await app.close();
});

test('acksLate keeps the message unacknowledged until the task ends; early ack acks before', async () => {
  const broker = new MemoryBroker();
  const app = memoryApp(broker);
  const acked: Array<[string, boolean]> = [];
  const origConsume = broker.consume.bind(broker);
  broker.consume = (queues, onDelivery, options) =>
    origConsume(queues, (d) => onDelivery({ ...d, ack: async () => { acked.push([d.message.headers['task'] as string, finished.has(d.message.headers['id'] as string)]); return d.ack(); } }), options);
  const finished = new Set<string>();
  app.task({ name: 'late', acksLate: true }, (ctx) => void finished.add(ctx.id));
  app.task({ name: 'early' }, (ctx) => void finished.add(ctx.id));
  const { stop } = startWorker(app);
  await (await app.sendTask('late')).get({ timeout: 5000 });
  await (await app.sendTask('early')).get({ timeout: 5000 });
  assert.deepEqual(acked, [['late', true], ['early', false]]);
  await stop();
  await app.close();
});

test('cold shutdown aborts running tasks and requeues late-ack ones', async () => {
  const broker = new MemoryBroker();
  const app = memoryApp(broker);
  let aborted = false;
  app.task({ name: 'forever', acksLate: true }, (ctx) =>
    new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => {
      aborted = true;
      reject(ctx.signal.reason);
    })),
  );
  await app.sendTask('forever');
  const worker = Worker.create(app, { concurrency: 1 });
  const running = worker.run();
  await sleep(20);
  void worker.shutdown();
  await worker.shutdown({ cold: true });
  await running;
  assert.equal(aborted, true);
  assert.equal(await broker.size('celery'), 1);
  await app.close();
});

test('worker options are validated', () => {
  const app = memoryApp();
  assert.throws(() => Worker.create(app, { concurrency: 0 }), /"concurrency" must be a positive integer, got 0/);
  assert.throws(() => Worker.create(app, { prefetchMultiplier: 1.5 }), /prefetchMultiplier/);
  assert.throws(() => Worker.create(app, { queues: [''] }), /queues/);
});

test('a shutdown that arrives while the worker is still connecting stops it cleanly', async () => {
  class SlowBroker extends MemoryBroker {
    override async connect(): Promise<void> {
      await sleep(50);
    }
  }
  const broker = new SlowBroker();
  const app = memoryApp(broker);
  app.task('t', () => 1);
  await broker.publish(
    { headers: { lang: 'py', task: 't', id: crypto.randomUUID() }, properties: {}, body: '[[], {}, {}]', contentType: 'application/json', contentEncoding: 'utf-8' },
    { queue: 'celery' },
  );
  const worker = Worker.create(app);
  const running = worker.run();
  await sleep(5);
  assert.equal(worker.state, 'starting');
  await worker.shutdown();
  await running;
  assert.equal(worker.state, 'stopped');
  assert.equal(await broker.size('celery'), 1, 'the message was not taken');
  await app.close();
});
