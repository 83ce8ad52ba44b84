/**
 * A task that fails for good goes to the dead letters on RabbitMQ, as with Celery's
 * `task_acks_on_failure_or_timeout = False` (a vhost of its own): with `acksLate` and
 * `acksOnFailureOrTimeout: false`, the failed task's FAILURE is stored and its message is set aside
 * in `celeriac.dead-letters` with the error as the reason (code `task-failed`); replaying it runs
 * the task again (now succeeding). A task with the default (`acksOnFailureOrTimeout` true) is
 * acknowledged when it fails: nothing is set aside.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, Worker, silentLogger } from '@celeriac/core';
import { eventually } from '@celeriac/testing';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const skip = await amqpSkipReason();
const scope = new VhostScope();
const QUEUE = 'failing';

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}

describe('amqp: a task that fails for good is dead-lettered when asked', { skip, timeout: 60_000 }, () => {
  let app: App;
  let worker: Worker;
  let running: Promise<void> | null = null;
  let runs = 0;
  before(async () => {
    await scope.create();
    app = new App({ broker: scope.url(), backend: 'memory://', logger: silentLogger });
    app.task({ name: 'pay', queue: QUEUE, acksLate: true, acksOnFailureOrTimeout: false, maxRetries: 0 }, () => {
      if (++runs === 1) throw new PaymentDeclined('card 4242 declined');
      return 'paid';
    });
    app.task({ name: 'plain', queue: QUEUE, acksLate: true }, () => {
      throw new PaymentDeclined('acknowledged anyway');
    });
    worker = Worker.create(app, { queues: [QUEUE], concurrency: 2 });
    running = worker.run();
  });
  after(async () => {
    await worker?.shutdown();
    await running?.catch(() => undefined);
    await app?.close();
    await scope.cleanup();
  });

  it('stores FAILURE, sets the message aside with the error, and replays it', async () => {
    const failed = await app.sendTask('pay', { queue: QUEUE });
    await assert.rejects(failed.get({ timeout: 15_000 }), /card 4242 declined/);
    const plain = await app.sendTask('plain', { queue: QUEUE });
    await assert.rejects(plain.get({ timeout: 15_000 }), /acknowledged anyway/);
    await eventually(async () => (await app.broker.listDeadLetters({ queue: QUEUE })).length === 1, 10_000, 'the dead letter');
    const [entry] = await app.broker.listDeadLetters({ queue: QUEUE });
    assert.equal(entry!.reason.code, 'task-failed');
    assert.match(entry!.reason.message, /PaymentDeclined: card 4242 declined/);
    assert.equal(entry!.message?.headers['id'], failed.id, 'the failed task is the one set aside, not the acknowledged one');

    assert.equal(await app.broker.replayDeadLetter(entry!.id), true);
    await eventually(async () => (await failed.state()) === 'SUCCESS', 15_000, 'the replayed task to succeed');
    assert.equal(await failed.get(), 'paid');
    assert.deepEqual(await app.broker.listDeadLetters({ queue: QUEUE }), []);
    assert.equal(runs, 2);
  });
});
