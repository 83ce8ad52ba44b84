/**
 * settle-batch.ts on a real channel (a vhost of its own): 50 deliveries acknowledged in one turn
 * go as one `basic.ack(multiple)`; with the oldest delivery left unsettled, the others are
 * acknowledged one by one (a multiple-ack would take the oldest too), and acknowledging the oldest
 * afterwards settles it alone; a reject among acks is sent before the multiple-ack. RabbitMQ ends
 * with nothing unacknowledged and only the requeued message ready.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@celeriac/testing';
import { connect, type Channel, type ConsumeMessage } from 'amqplib';
import { SettleBatch } from '../src/settle-batch.js';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const skip = await amqpSkipReason();
const scope = new VhostScope();
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Records the channel's ack/reject calls as [kind, tag, multiple]. */
function spy(channel: Channel): [string, number, boolean][] {
  const calls: [string, number, boolean][] = [];
  const [ack, reject] = [channel.ack.bind(channel), channel.reject.bind(channel)];
  channel.ack = (msg: ConsumeMessage, multiple?: boolean) => {
    calls.push(['ack', msg.fields.deliveryTag, multiple === true]);
    ack(msg, multiple);
  };
  channel.reject = (msg: ConsumeMessage, requeue?: boolean) => {
    calls.push(['reject', msg.fields.deliveryTag, false]);
    reject(msg, requeue);
  };
  return calls;
}

describe('amqp: settle batches', { skip, timeout: 30_000 }, () => {
  before(() => scope.create());
  after(() => scope.cleanup());

  it('folds consecutive acks into one, never past an unsettled delivery', async () => {
    const conn = await connect(scope.url());
    try {
      const channel = await conn.createChannel();
      const queue = 'settle';
      await channel.assertQueue(queue, { durable: false });
      for (let i = 0; i < 60; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
      await channel.prefetch(60);
      const got: ConsumeMessage[] = [];
      const batch = new SettleBatch(channel);
      const { consumerTag } = await channel.consume(queue, (msg) => {
        if (!msg) return;
        batch.delivered(msg);
        got.push(msg);
      });
      await eventually(() => got.length === 60, 10_000, '60 deliveries');
      // No more deliveries (the requeued one stays ready); these 60 can still be settled.
      await channel.cancel(consumerTag);
      const calls = spy(channel);

      for (const msg of got.slice(0, 50)) batch.ack(msg);
      await turn();
      assert.deepEqual(calls, [['ack', got[49]!.fields.deliveryTag, true]]);

      calls.length = 0;
      // The oldest of the rest (50) stays unsettled; 51..58 acked, 59 rejected with requeue.
      for (const msg of got.slice(51, 59)) batch.ack(msg);
      batch.reject(got[59]!, true);
      await turn();
      assert.deepEqual(calls, [['reject', got[59]!.fields.deliveryTag, false], ...got.slice(51, 59).map((m) => ['ack', m.fields.deliveryTag, false])]);

      calls.length = 0;
      batch.ack(got[50]!);
      await turn();
      assert.deepEqual(calls, [['ack', got[50]!.fields.deliveryTag, true]]);

      const check = await conn.createChannel();
      await eventually(async () => (await check.checkQueue(queue)).messageCount === 1, 10_000, 'only the requeued message ready');
    } finally {
      await conn.close();
    }
  });
});
