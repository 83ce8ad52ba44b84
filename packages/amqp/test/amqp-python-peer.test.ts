/**
 * Python Celery 5.2 (py-amqp) and the celeriac AMQP broker on one queue of a vhost of their own:
 * - a message Celery's `send_task` publishes (Celery declaring the queue first) is consumed by
 *   celeriac, which declares the same queue without a PRECONDITION_FAILED, and decodes as Celery
 *   wrote it: args, kwargs, `timelimit`, `retries`, the ids;
 * - a message celeriac publishes (`timelimit [300, 240]`, `group_index 200`, `retries 0`) is read
 *   by kombu with the values it was given: header integers are typed so py-amqp 5.1 reads them
 *   right (its own reader misreads 8- and 16-bit ones), and `expires` becomes `expiration` in ms.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildTaskMessage, decodeTaskMessage, encodeTaskMessage, silentLogger, type Delivery } from '@celeriac/core';
import { AmqpBroker } from '@celeriac/amqp';
import { VhostScope } from './amqp-fixture.js';
import { interopSkipReason, PYTHON } from './interop-fixture.js';

const run = promisify(execFile);
const PEER = fileURLToPath(new URL('./fixtures/py_amqp_peer.py', import.meta.url));

const skip = await interopSkipReason();
const scope = new VhostScope();

describe('amqp: Python Celery 5.2 and celeriac on one queue', { skip, timeout: 60_000 }, () => {
  let broker: AmqpBroker;
  const peer = async (verb: string, queue: string) => JSON.parse((await run(PYTHON, [PEER, scope.url(), verb, queue], { timeout: 30_000 })).stdout) as Record<string, unknown>;
  before(async () => {
    await scope.create();
    broker = new AmqpBroker({ url: scope.url(), logger: silentLogger });
    await broker.connect();
  });
  after(async () => {
    await broker?.close();
    await scope.cleanup();
  });

  it('celeriac consumes what Celery sends, from a queue Celery declared', async () => {
    const queue = `py-to-ts-${randomUUID()}`;
    const { id } = await peer('send', queue);
    const got = new Promise<Delivery>((resolve) => void broker.consume([queue], resolve, { prefetch: 1 }).then((c) => got.then(() => c.cancel())));
    const delivery = await got;
    await delivery.ack();
    const message = decodeTaskMessage(delivery.message);
    assert.equal(message.headers.id, id);
    assert.equal(message.headers.task, 'interop.add');
    assert.deepEqual(message.args, [2, 3]);
    assert.deepEqual(message.kwargs, { scale: 10 });
    assert.deepEqual(message.headers.timelimit, [300, 240]);
    assert.equal(message.headers.retries, 0);
    assert.equal(message.properties.correlation_id, id);
    assert.equal(delivery.priority, 0);
  });

  it('Celery reads what celeriac sends, numbers and all', async () => {
    const queue = `ts-to-py-${randomUUID()}`;
    const id = randomUUID();
    const now = new Date();
    const message = buildTaskMessage({
      task: 'interop.add', id, args: [1, 2.5], kwargs: { big: 70000, small: -3 }, timelimit: [300, 240], group: randomUUID(), groupIndex: 200,
      expires: new Date(now.getTime() + 30_000), origin: 'test@host', replyTo: randomUUID(), now,
    });
    await broker.publish(encodeTaskMessage(message), { queue, priority: 0 });
    const read = (await peer('read', queue)) as { headers: Record<string, unknown>; properties: Record<string, unknown>; body: unknown; content_type: string };
    assert.deepEqual(read.headers['timelimit'], [300, 240]);
    assert.equal(read.headers['group_index'], 200);
    assert.equal(read.headers['retries'], 0);
    assert.equal(read.headers['id'], id);
    assert.equal(read.properties['correlation_id'], id);
    assert.equal(read.properties['priority'], 0);
    assert.equal(read.properties['delivery_mode'], 2);
    assert.equal(read.properties['expiration'], '30000');
    assert.equal(read.content_type, 'application/json');
    assert.deepEqual((read.body as unknown[]).slice(0, 2), [[1, 2.5], { big: 70000, small: -3 }]);
  });
});
