/**
 * RabbitMQ's own dead-lettering into celeriac's dead letters, in a vhost of its own: with the
 * documented policy (`rabbitmqctl set_policy ... '{"dead-letter-exchange":"celeriac.dlx"}'`) on a
 * queue declared exactly as Celery declares it (no 406: a policy is not a queue argument),
 * - a message rejected without requeue (what a Python worker does with a message it cannot use)
 *   and one whose `expires` passed in the queue land in `celeriac.dead-letters`;
 * - listDeadLetters shows them with RabbitMQ's reason (`rabbitmq:rejected`, `rabbitmq:expired`)
 *   and their queue, next to one celeriac set aside itself (its own reason, from its headers);
 * - replay puts the expired one back on its queue without its `expiration` or death records, and
 *   it is consumed from there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { silentLogger, type Delivery } from '@celeriac/core';
import { eventually, sampleMessage } from '@celeriac/testing';
import { AmqpBroker } from '@celeriac/amqp';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const run = promisify(execFile);
const skip = await amqpSkipReason();
const scope = new VhostScope();
const WAIT = 15_000;

describe('amqp: RabbitMQ dead-lettering through celeriac.dlx (policy)', { skip, timeout: 60_000 }, () => {
  let broker: AmqpBroker;
  before(async () => {
    await scope.create();
    await run('rabbitmqctl', ['set_policy', '-p', scope.vhost, '--apply-to', 'queues', 'celeriac-dlx', '^dlx-', '{"dead-letter-exchange":"celeriac.dlx"}']);
    broker = new AmqpBroker({ url: scope.url(), logger: silentLogger });
    await broker.connect();
  });
  after(async () => {
    await broker?.close();
    await scope.cleanup();
  });

  it('rejected and expired messages are listed with RabbitMQ\'s reason, and replay works', async () => {
    const queue = `dlx-${randomUUID()}`;
    const rejected = sampleMessage('rejected');
    const expired = { ...sampleMessage('expired'), properties: { ...sampleMessage('expired').properties, expiration: '1' } };
    const aside = sampleMessage('set aside');
    await broker.publish(rejected, { queue });
    await broker.publish(aside, { queue });
    const got: Delivery[] = [];
    const consumer = await broker.consume([queue], (d) => got.push(d), { prefetch: 2 });
    await eventually(() => got.length === 2, WAIT, 'two deliveries');
    await consumer.cancel();
    await got[0]!.reject(false);
    await broker.deadLetter(got[1]!, { code: 'bad-message:test', message: 'set aside by the test' });
    // Nobody consumes now: it expires at the head of the queue.
    await broker.publish(expired, { queue });

    await eventually(async () => (await broker.listDeadLetters({ queue })).length === 3, WAIT, 'three dead letters');
    const entries = await broker.listDeadLetters({ queue });
    const byTag = new Map(entries.map((e) => [JSON.parse(e.message!.body)[0][0] as string, e]));
    assert.equal(byTag.get('rejected')?.reason.code, 'rabbitmq:rejected');
    assert.equal(byTag.get('expired')?.reason.code, 'rabbitmq:expired');
    assert.deepEqual(byTag.get('set aside')?.reason, { code: 'bad-message:test', message: 'set aside by the test' });
    for (const e of entries) assert.equal(e.queue, queue);

    assert.equal(await broker.replayDeadLetter(byTag.get('expired')!.id), true);
    assert.equal((await broker.listDeadLetters({ queue })).length, 2);
    const again: Delivery[] = [];
    const c2 = await broker.consume([queue], (d) => again.push(d), { prefetch: 1 });
    await eventually(() => again.length === 1, WAIT, 'the replayed message');
    await c2.cancel();
    assert.equal(JSON.parse(again[0]!.message.body)[0][0], 'expired');
    assert.equal(again[0]!.message.properties['expiration'], undefined);
    assert.equal(again[0]!.message.headers['x-death'], undefined);
    await again[0]!.ack();
  });
});
