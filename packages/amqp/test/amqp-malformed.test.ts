/**
 * Nothing lost, nothing crashed, when malformed messages land on a running worker's RabbitMQ
 * queue (a vhost of this test's own): raw messages published straight to the queue with amqplib,
 * each with one defect (a body that is not JSON, a two-element body, a pickle content type, an
 * unknown task, no `id` header), between good tasks. Each bad one is set aside in
 * `celeriac.dead-letters` with its own reason code, every good task succeeds, and the worker stays
 * 'running' throughout.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { App, Worker, silentLogger } from '@celeriac/core';
import { eventually } from '@celeriac/testing';
import { typedHeaders } from '@celeriac/amqp';
import { connect } from 'amqplib';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const skip = await amqpSkipReason();
const scope = new VhostScope();
const QUEUE = 'chaos-malformed';

interface Bad {
  readonly name: string;
  readonly code: string;
  readonly body: string;
  readonly contentType: string;
  readonly headers: Record<string, unknown>;
}

function bad(name: string, code: string, change: (m: { headers: Record<string, unknown>; body: string; contentType: string }) => void): Bad {
  const id = randomUUID();
  const m = {
    headers: { lang: 'py', task: 'chaos.echo', id, retries: 0, timelimit: [null, null], root_id: id, parent_id: null, chaos_case: name } as Record<string, unknown>,
    body: JSON.stringify([['bad'], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
    contentType: 'application/json',
  };
  change(m);
  return { name, code, ...m };
}

const BAD: readonly Bad[] = [
  bad('not-json', 'bad-message:body-not-json', (m) => void (m.body = '[[1], {"a": ')),
  bad('two-element-body', 'bad-message:body-shape', (m) => void (m.body = '[[], {}]')),
  bad('pickle', 'bad-message:content-type', (m) => void (m.contentType = 'application/x-python-serialize')),
  bad('unknown-task', 'not-registered', (m) => void (m.headers['task'] = 'chaos.no-such-task')),
  bad('no-id', 'bad-message:missing-header', (m) => void delete m.headers['id']),
];

describe('amqp: malformed messages on a running worker\'s queue', { skip, timeout: 60_000 }, () => {
  let app: App;
  let worker: Worker;
  let running: Promise<void> | null = null;
  before(async () => {
    await scope.create();
    app = new App({ broker: scope.url(), backend: 'memory://', logger: silentLogger });
    app.task({ name: 'chaos.echo', params: ['x'], queue: QUEUE }, (_ctx, x: string) => x);
    worker = Worker.create(app, { queues: [QUEUE], concurrency: 2 });
  });
  after(async () => {
    await worker?.shutdown();
    await running?.catch(() => undefined);
    await app?.close();
    await scope.cleanup();
  });

  it('are each set aside with their reason while the worker keeps going', async () => {
    running = worker.run();
    await eventually(() => worker.state === 'running', 10_000, 'the worker to be running');
    const stateSeen = new Set<string>();
    const watchState = setInterval(() => stateSeen.add(worker.state), 5);
    const raw = await connect(scope.url());
    try {
      const channel = await raw.createConfirmChannel();
      const good: string[] = [];
      const sendGood = async (label: string) => good.push((await app.sendTask('chaos.echo', { args: [label], queue: QUEUE })).id);
      await sendGood('before');
      for (const b of BAD) {
        channel.sendToQueue(QUEUE, Buffer.from(b.body), { contentType: b.contentType, contentEncoding: 'utf-8', headers: typedHeaders(b.headers), persistent: true, priority: 0 });
        await channel.waitForConfirms();
        await sendGood(`after-${b.name}`);
      }
      await eventually(async () => (await app.broker.listDeadLetters({ queue: QUEUE })).length >= BAD.length, 15_000, 'every bad message set aside');
      const values = await Promise.all(good.map((id) => app.asyncResult(id).get({ timeout: 15_000 })));
      assert.deepEqual(values, ['before', ...BAD.map((b) => `after-${b.name}`)]);

      const entries = await app.broker.listDeadLetters({ queue: QUEUE });
      assert.deepEqual(entries.map((e) => [String(e.message?.headers['chaos_case']), e.reason.code]).sort(), BAD.map((b) => [b.name, b.code]).sort(), 'one dead letter per bad message, each with its reason');
      for (const e of entries) assert.ok(e.reason.message.length > 0, `dead letter ${e.reason.code} says why`);
      for (const e of entries) assert.equal(e.message?.body, BAD.find((b) => b.name === e.message?.headers['chaos_case'])?.body, 'the body is kept as it came');
      assert.equal(worker.state, 'running');
      assert.deepEqual([...stateSeen], ['running'], 'the worker never left the running state');
      assert.equal(worker.stats.deadLettered, BAD.length);
      assert.equal(await app.broker.size(QUEUE), 0, 'nothing left on the queue');
    } finally {
      clearInterval(watchState);
      await raw.close();
    }
  });
});
