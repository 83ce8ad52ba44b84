/**
 * coalesce-writes.ts against the real amqplib and RabbitMQ (a vhost of its own): once applied,
 * 200 publishes issued in one turn reach the socket in a handful of writes (one `writev` per
 * multiplexer round), not one write each as amqplib alone does; all 200 are confirmed. The
 * uncorked connection beside it is the control: the same publishes cost one write each there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type ChannelModel } from 'amqplib';
import { coalesceWrites } from '../src/coalesce-writes.js';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const skip = await amqpSkipReason();
const scope = new VhostScope();
const N = 200;

/** Socket writes (single and vectored) while `fn` runs and its frames are flushed. */
async function countWrites(model: ChannelModel, fn: () => Promise<void>): Promise<number> {
  const socket = (model as unknown as { connection: { stream: { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown } } }).connection.stream;
  let writes = 0;
  const [write, writev] = [socket._write, socket._writev];
  socket._write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return write.apply(this, args);
  };
  socket._writev = function (this: unknown, ...args: unknown[]) {
    writes++;
    return writev.apply(this, args);
  };
  try {
    await fn();
  } finally {
    socket._write = write;
    socket._writev = writev;
  }
  return writes;
}

async function publishAll(model: ChannelModel, queue: string): Promise<void> {
  const channel = await model.createConfirmChannel();
  await channel.assertQueue(queue, { durable: false, autoDelete: false });
  for (let i = 0; i < N; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
  await channel.waitForConfirms();
  const { messageCount } = await channel.checkQueue(queue);
  assert.equal(messageCount, N);
  await channel.close();
}

describe('amqp: one socket write per burst of frames', { skip }, () => {
  before(() => scope.create());
  after(() => scope.cleanup());

  it('200 publishes in one turn take a few writes corked, about 200 uncorked', async () => {
    const corked = await connect(scope.url());
    const plain = await connect(scope.url());
    try {
      assert.equal(coalesceWrites(corked), true, 'amqplib internals as expected');
      assert.equal(coalesceWrites(corked), true, 'applying it twice is harmless');
      const few = await countWrites(corked, () => publishAll(corked, 'corked'));
      const many = await countWrites(plain, () => publishAll(plain, 'plain'));
      assert.ok(many >= N, `the control wrote ${many} times for ${N} publishes`);
      assert.ok(few <= 20, `corked: ${few} writes for ${N} publishes`);
    } finally {
      await corked.close();
      await plain.close();
    }
  });
});
