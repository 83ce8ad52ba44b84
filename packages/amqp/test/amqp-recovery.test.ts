/**
 * The AMQP broker's recovery, in a vhost of its own:
 * - consume() called before the connection is up consumes once (one consumer on the queue), not
 *   once for the call and once more for the connection opening;
 * - the server closing the connection (`rabbitmqctl close_connection`): the consumer comes back by
 *   itself, the message it held unacknowledged is delivered again (marked redelivered), and
 *   publishing works again;
 * - the server closing the consumer's channel alone (here: a publish to a missing exchange on it,
 *   a 404): the consumer comes back on a new channel.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { silentLogger, type Delivery } from '@celeriac/core';
import { eventually, sampleMessage } from '@celeriac/testing';
import { AmqpBroker } from '@celeriac/amqp';
import type { Channel } from 'amqplib';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const run = promisify(execFile);
const skip = await amqpSkipReason();
const scope = new VhostScope();
const WAIT = 20_000;

/** Connections of this test's vhost, by pid (for rabbitmqctl close_connection). */
async function connectionsOfVhost(): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'vhost', '-q', '--no-table-headers']);
  return stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter(([, vhost]) => vhost === scope.vhost).map(([pid]) => pid!);
}

describe('amqp broker: recovery', { skip, timeout: 120_000 }, () => {
  const brokers: AmqpBroker[] = [];
  const open = () => {
    const broker = new AmqpBroker({ url: scope.url(), logger: silentLogger });
    brokers.push(broker);
    return broker;
  };
  before(() => scope.create());
  after(async () => {
    for (const b of brokers) await b.close();
    await scope.cleanup();
  });

  it('consume() before the connection is up consumes once', async () => {
    const broker = open();
    const queue = `once-${randomUUID()}`;
    const consumer = await broker.consume([queue], () => {}, { prefetch: 1 });
    assert.deepEqual(await scope.queueRow(queue, 'consumers'), ['1'], `one consumer on ${queue}`);
    await consumer.cancel();
  });

  it('comes back after the server closes the connection; the held message comes again', async () => {
    const broker = open();
    const queue = `reconnect-${randomUUID()}`;
    const got: Delivery[] = [];
    await broker.consume([queue], (d) => got.push(d), { prefetch: 1 });
    await broker.publish(sampleMessage('held'), { queue });
    await eventually(() => got.length === 1, WAIT, 'the first delivery');
    const pids = await connectionsOfVhost();
    assert.ok(pids.length >= 1);
    for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'test: recovery']);
    // Settling a delivery of the dead channel does nothing; RabbitMQ gives it again.
    await got[0]!.ack();
    await eventually(() => got.length === 2, WAIT, 'the held message delivered again after the reconnect');
    assert.equal(got[1]!.redelivered, true);
    await got[1]!.ack();
    await broker.publish(sampleMessage('after'), { queue });
    await eventually(() => got.length === 3, WAIT, 'a message published after the reconnect');
    await got[2]!.ack();
    assert.equal(await broker.size(queue), 0);
  });

  it('comes back when the server closes the consumer channel alone', async () => {
    const broker = open();
    const queue = `channel-${randomUUID()}`;
    const got: Delivery[] = [];
    const consumer = await broker.consume([queue], (d) => got.push(d), { prefetch: 1 });
    const channel = (consumer as unknown as { channel: Channel }).channel;
    const closed = new Promise((resolve) => channel.once('close', resolve));
    channel.publish(`no-such-exchange-${randomUUID()}`, 'x', Buffer.from('x'));
    await closed;
    await broker.publish(sampleMessage('after channel error'), { queue });
    await eventually(() => got.length === 1, WAIT, 'a delivery on the new channel');
    await got[0]!.ack();
  });
});
