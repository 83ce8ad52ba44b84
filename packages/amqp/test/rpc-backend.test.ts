/**
 * The rpc:// result backend, in a vhost of its own:
 * - the backend conformance suite, each result sent to the backend's own reply queue (as a
 *   worker sends it to its task's sender), compared on the five fields Celery's rpc body carries;
 * - an App with `backend: 'rpc://'` and an amqp broker, with a worker: `delay().get()` gives the
 *   value, a failure rethrows with its type and message, the reply queue is declared as Celery
 *   declares it (not durable, auto-delete, x-expires one day) and is named by the app's id;
 * - what it refuses, with a clear error: chords (Celery's own text), an rpc backend without an
 *   amqp broker, an rpc URL with more than `rpc://`;
 * - review: connect() before the broker's connection is up consumes the reply queue once (one
 *   consumer), and a connect() that failed (no such vhost yet) succeeds once it can; a reply queue
 *   deleted under a running client is declared and consumed again, and results flow again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, test } from 'node:test';
import { App, chain, chord, ConfigError, group, silentLogger, Worker } from '@celeriac/core';
import { backendConformance, eventually } from '@celeriac/testing';
import { AmqpBroker, createBackend, RPC_NO_CHORDS, RpcBackend } from '@celeriac/amqp';
import { connect } from 'amqplib';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const skip = await amqpSkipReason();
const scope = new VhostScope();
const CELERY_RPC_FIELDS = ['task_id', 'status', 'result', 'traceback', 'children'];

if (skip) {
  test('rpc result backend', { skip }, () => {});
} else {
  let broker: AmqpBroker;
  before(async () => {
    await scope.create();
    broker = new AmqpBroker({ url: scope.url(), logger: silentLogger });
    await broker.connect();
  });
  after(async () => {
    await broker.close();
    await scope.cleanup();
  });

  backendConformance('rpc', {
    create: async () => new RpcBackend(broker, `conformance-${randomUUID()}`, silentLogger),
    setOptions: (backend) => ({ replyTo: (backend as RpcBackend).replyTo }),
    metaFields: CELERY_RPC_FIELDS,
  });

  describe('rpc backend with an app and a worker', { timeout: 60_000 }, () => {
    it('delay().get() gives the value or rethrows the failure; the reply queue is Celery\'s', async () => {
      const app = new App({ broker: scope.url(), backend: 'rpc://', logger: silentLogger });
      const add = app.task('rpc.add', (_ctx, a: number, b: number) => a + b);
      const boom = app.task('rpc.boom', () => {
        throw new RangeError('out of range');
      });
      await app.connect();
      const worker = Worker.create(app, { concurrency: 2 });
      const running = worker.run();
      try {
        assert.equal(await (await add.delay(2, 3)).get({ timeout: 20_000 }), 5);
        // A RangeError travels as Python's ValueError (core's exception codec).
        await assert.rejects((await boom.delay()).get({ timeout: 20_000 }), (err: Error) => err.name === 'ValueError' && /out of range/.test(err.message));
        const row = await scope.queueRow(app.oid, 'durable', 'auto_delete', 'arguments');
        assert.ok(row, `the reply queue ${app.oid} exists`);
        const [durable, autoDelete, args] = row;
        assert.deepEqual({ durable, autoDelete }, { durable: 'false', autoDelete: 'true' });
        assert.match(args ?? '', /x-expires.*86400000/);
      } finally {
        await worker.shutdown();
        await running;
        await app.close();
      }
    });
  });

  describe('review: connecting', { timeout: 60_000 }, () => {
    it('before the broker is connected, the reply queue gets one consumer', async () => {
      const fresh = new AmqpBroker({ url: scope.url(), logger: silentLogger });
      const backend = new RpcBackend(fresh, `once-${randomUUID()}`, silentLogger);
      try {
        await backend.connect();
        assert.deepEqual(await scope.queueRow(backend.replyTo, 'consumers'), ['1']);
      } finally {
        await backend.close();
        await fresh.close();
      }
    });

    it('a connect() that failed succeeds once the server lets it', async () => {
      const later = new VhostScope();
      const fresh = new AmqpBroker({ url: later.url('connection_timeout=1000'), logger: silentLogger });
      const backend = new RpcBackend(fresh, `later-${randomUUID()}`, silentLogger);
      try {
        await assert.rejects(backend.connect(), /unavailable/);
        await later.create();
        // The broker's reconnect loop backs off (up to 5 s between tries): keep asking.
        await eventually(() => backend.connect().then(() => true, () => false), 30_000, 'connect() to succeed once the vhost exists');
        assert.deepEqual(await later.queueRow(backend.replyTo, 'consumers'), ['1']);
      } finally {
        await backend.close();
        await fresh.close();
        await later.cleanup();
      }
    });
  });

  describe('review: the reply queue deleted under a running client', { timeout: 60_000 }, () => {
    it('is declared and consumed again; results arrive again', async () => {
      const app = new App({ broker: scope.url(), backend: 'rpc://', logger: silentLogger });
      const add = app.task('rpc.add2', (_ctx, a: number, b: number) => a + b);
      await app.connect();
      const worker = Worker.create(app, { concurrency: 1 });
      const running = worker.run();
      try {
        assert.equal(await (await add.delay(1, 1)).get({ timeout: 20_000 }), 2);
        const admin = await connect(scope.url());
        await (await admin.createChannel()).deleteQueue(app.oid);
        await admin.close();
        await eventually(async () => (await scope.queueRow(app.oid, 'consumers'))?.[0] === '1', 30_000, 'the reply queue declared and consumed again');
        assert.equal(await (await add.delay(2, 2)).get({ timeout: 20_000 }), 4);
      } finally {
        await worker.shutdown();
        await running;
        await app.close();
      }
    });

    it('runs a chain and a group (no chord needed), results over rpc', async () => {
      const app = new App({ broker: scope.url(), backend: 'rpc://', logger: silentLogger, defaultQueue: `rpc-canvas-${randomUUID()}` });
      const add = app.task('rpc.canvas.add', (_ctx, a: number, b: number) => a + b);
      const mul = app.task('rpc.canvas.mul', (_ctx, a: number, b: number) => a * b);
      await app.connect();
      const worker = Worker.create(app, { concurrency: 4 });
      const running = worker.run();
      try {
        const last = await app.apply(chain(add.s(2, 2), mul.s(4), add.s(1)));
        assert.equal(await last.get({ timeout: 20_000 }), 17);
        const members = await app.apply(group(add.s(1, 1), mul.s(3, 3)));
        assert.deepEqual(await members.join({ timeout: 20_000 }), [2, 9]);
      } finally {
        await worker.shutdown();
        await running;
        await app.close();
      }
    });
  });

  describe('what the rpc backend refuses', () => {
    it('chords, with Celery\'s own message', () => {
      const backend = new RpcBackend(broker, randomUUID(), silentLogger);
      assert.throws(() => backend.chords, (err: Error) => err.message === RPC_NO_CHORDS && err.name === 'NotImplementedError');
      assert.match(RPC_NO_CHORDS, /^The "rpc" result backend does not support chords!\n\nNote that a group chained with a task is also upgraded to be a chord,/);
    });

    it('applying a chord, or a chain that becomes one, fails with Celery\'s message before anything is sent', async () => {
      const app = new App({ broker: scope.url(), backend: 'rpc://', logger: silentLogger, defaultQueue: `rpc-chord-${randomUUID()}` });
      const add = app.task('rpc.chord.add', (_ctx, a: number, b: number) => a + b);
      try {
        await app.connect();
        const refused = (err: Error) => err.message === RPC_NO_CHORDS && err.name === 'NotImplementedError';
        await assert.rejects(app.apply(chord([add.s(1, 1), add.s(2, 2)], add.s(1))), refused);
        await assert.rejects(app.apply(chain(add.s(1, 1), group(add.s(1), add.s(2)), add.s(3))), refused);
        const row = await scope.queueRow(app.defaultQueue, 'messages');
        assert.ok(row === undefined || row[0] === '0', `nothing was published (${row?.join(' ')})`);
      } finally {
        await app.close();
      }
    });

    it('a broker that is not amqp, or an rpc URL with more in it', async () => {
      assert.throws(() => createBackend('rpc://', { logger: silentLogger, replyTo: 'x' }), /needs an amqp:\/\/ broker \(none was given\)/);
      assert.throws(() => createBackend('rpc://somewhere/else', { logger: silentLogger, broker, replyTo: 'x' }), ConfigError);
      const app = new App({ broker: 'memory://', backend: 'rpc://', logger: silentLogger });
      await assert.rejects(app.connect(), /needs an amqp:\/\/ broker/);
      await app.close();
    });
  });
}
