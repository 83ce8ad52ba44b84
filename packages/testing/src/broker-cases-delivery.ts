/**
 * Broker conformance, part 1: what comes out is what went in, in the right order, and settling a
 * delivery (ack, reject with or without requeue) does what it says.
 */
import assert from 'node:assert/strict';
import type { Broker, Delivery } from '@celeriac/core';
import { Inbox, sampleMessage, sleep, tagOf, uniqueQueue } from './conformance-helpers.js';
import type { BrokerCase } from './broker-case.js';

export const DELIVERY_CASE_NAMES = [
  'round trip preserves the message',
  'publishMany delivers every message',
  'FIFO within a priority',
  'priority order',
  'ack removes the message',
  'reject with requeue redelivers',
  'reject without requeue drops',
  'multiple queues are consumed',
  'purge and size',
  'notBefore is respected',
] as const;
export type DeliveryCaseName = (typeof DELIVERY_CASE_NAMES)[number];

/** Consumes `queue` with prefetch 1, acking each delivery, until `n` arrived; returns their tags. */
async function drainInOrder(broker: Broker, queue: string, n: number, timeoutMs: number): Promise<string[]> {
  const tags: string[] = [];
  const inbox = new Inbox();
  const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 1 });
  try {
    for (let i = 0; i < n; i++) {
      const [d] = (await inbox.waitFor(i + 1, { timeoutMs, quietMs: 0 })).slice(i);
      tags.push(tagOf(d!));
      await inbox.ack(d!);
    }
  } finally {
    await consumer.cancel();
  }
  return tags;
}

export const deliveryCases: readonly BrokerCase<DeliveryCaseName>[] = [
  {
    name: 'round trip preserves the message',
    async run({ open, waits, assertSameMessage }) {
      const broker = await open();
      const queue = uniqueQueue('round-trip');
      const json = sampleMessage('json', { priority: 3 });
      const other = { ...sampleMessage('other'), body: 'plain text, not JSON: {[', contentType: 'text/plain', contentEncoding: 'binary' };
      await broker.publish(json, { queue, priority: 3 });
      await broker.publish(other, { queue, priority: 3 });
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 10 });
      const [a, b] = await inbox.waitFor(2, waits);
      await consumer.cancel();
      assertSameMessage(a!.message, json);
      assertSameMessage(b!.message, other);
      assert.equal(a!.queue, queue);
      assert.equal(a!.redelivered, false);
      assert.equal(a!.priority, 3);
      assert.equal(typeof a!.deliveryTag, 'string');
      assert.notEqual(a!.deliveryTag, b!.deliveryTag);
      await inbox.ack(a!);
      await inbox.ack(b!);
    },
  },
  {
    name: 'publishMany delivers every message',
    async run({ open, waits }) {
      const broker = await open();
      const q1 = uniqueQueue('many-1');
      const q2 = uniqueQueue('many-2');
      const batch = [0, 1, 2, 3, 4].map((i) => ({ message: sampleMessage(`m${i}`), options: { queue: i % 2 ? q2 : q1 } }));
      await broker.publishMany(batch);
      await broker.publishMany([]);
      assert.equal(await broker.size(q1), 3);
      assert.equal(await broker.size(q2), 2);
      assert.deepEqual(await drainInOrder(broker, q1, 3, waits.timeoutMs), ['m0', 'm2', 'm4']);
      assert.deepEqual(await drainInOrder(broker, q2, 2, waits.timeoutMs), ['m1', 'm3']);
    },
  },
  {
    name: 'FIFO within a priority',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('fifo');
      const tags = Array.from({ length: 20 }, (_, i) => `m${i}`);
      for (const tag of tags.slice(0, 10)) await broker.publish(sampleMessage(tag), { queue });
      await broker.publishMany(tags.slice(10).map((tag) => ({ message: sampleMessage(tag), options: { queue } })));
      assert.deepEqual(await drainInOrder(broker, queue, tags.length, waits.timeoutMs), tags);
    },
  },
  {
    name: 'priority order',
    async run({ open, waits }, t) {
      const broker = await open();
      if (!broker.capabilities.priority) return t.skip('the broker declares capabilities.priority = false');
      const queue = uniqueQueue('priority');
      const priorities = [3, 7, 0, 3, 9, 7, 0, 5, 9, 1];
      const sent = priorities.map((p, i) => ({ tag: `p${p}-${i}`, p }));
      for (const { tag, p } of sent) await broker.publish(sampleMessage(tag, { priority: p }), { queue, priority: p });
      const sign = broker.capabilities.priorityOrder === 'higher-first' ? -1 : 1;
      // Array.prototype.sort is stable, so equal priorities keep publish order (FIFO).
      const expected = [...sent].sort((a, b) => sign * (a.p - b.p)).map((s) => s.tag);
      assert.deepEqual(await drainInOrder(broker, queue, sent.length, waits.timeoutMs), expected);
    },
  },
  {
    name: 'ack removes the message',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('ack');
      await broker.publish(sampleMessage('only'), { queue });
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 5 });
      const [d] = await inbox.waitFor(1, waits);
      await inbox.ack(d!);
      await sleep(waits.quietMs);
      assert.equal(inbox.received.length, 1, 'an acknowledged message came back');
      await consumer.cancel();
      assert.equal(await broker.size(queue), 0);
    },
  },
  {
    name: 'reject with requeue redelivers',
    async run({ open, waits, assertSameMessage }) {
      const broker = await open();
      const queue = uniqueQueue('requeue');
      const message = sampleMessage('again');
      await broker.publish(message, { queue });
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 1 });
      const [first] = await inbox.waitFor(1, waits);
      assert.equal(first!.redelivered, false);
      await inbox.reject(first!, true);
      const [, second] = await inbox.waitFor(2, waits, 'the requeued message');
      assert.equal(second!.redelivered, true);
      assertSameMessage(second!.message, message);
      await inbox.ack(second!);
      await consumer.cancel();
      assert.equal(await broker.size(queue), 0);
    },
  },
  {
    name: 'reject without requeue drops',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('drop');
      await broker.publish(sampleMessage('dropped'), { queue });
      await broker.publish(sampleMessage('kept'), { queue });
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 1 });
      const [first] = await inbox.waitFor(1, waits);
      assert.equal(tagOf(first!), 'dropped');
      await inbox.reject(first!, false);
      const [, second] = await inbox.waitFor(2, waits);
      assert.equal(tagOf(second!), 'kept');
      await inbox.ack(second!);
      await sleep(waits.quietMs);
      await consumer.cancel();
      assert.deepEqual(inbox.received.map(tagOf), ['dropped', 'kept']);
      assert.equal(await broker.size(queue), 0);
    },
  },
  {
    name: 'multiple queues are consumed',
    async run({ open, waits }) {
      const broker = await open();
      const q1 = uniqueQueue('multi-1');
      const q2 = uniqueQueue('multi-2');
      const q3 = uniqueQueue('multi-3');
      for (const [queue, tag] of [[q1, 'a1'], [q2, 'b1'], [q1, 'a2'], [q2, 'b2'], [q3, 'c1']] as const) {
        await broker.publish(sampleMessage(tag), { queue });
      }
      const inbox = new Inbox();
      const consumer = await broker.consume([q1, q2], inbox.onDelivery, { prefetch: 10 });
      const got = await inbox.waitFor(4, waits);
      await sleep(waits.quietMs);
      await consumer.cancel();
      assert.equal(inbox.received.length, 4, 'a message from a queue that was not consumed arrived');
      const byQueue = (q: string) => got.filter((d: Delivery) => d.queue === q).map(tagOf);
      assert.deepEqual(byQueue(q1), ['a1', 'a2']);
      assert.deepEqual(byQueue(q2), ['b1', 'b2']);
      for (const d of got) await inbox.ack(d);
      assert.equal(await broker.size(q3), 1);
    },
  },
  {
    name: 'purge and size',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('purge');
      assert.equal(await broker.size(queue), 0);
      assert.equal(await broker.purge(queue), 0);
      for (let i = 0; i < 5; i++) await broker.publish(sampleMessage(`m${i}`), { queue });
      assert.equal(await broker.size(queue), 5);
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 2 });
      const held = await inbox.waitFor(2, waits);
      await consumer.cancel();
      assert.equal(await broker.size(queue), 3, 'size must not count delivered, unacknowledged messages');
      assert.equal(await broker.purge(queue), 3);
      assert.equal(await broker.size(queue), 0);
      for (const d of held) await inbox.ack(d);
      assert.equal(await broker.size(queue), 0);
    },
  },
  {
    name: 'notBefore is respected',
    async run({ open, waits }, t) {
      const broker = await open();
      if (!broker.capabilities.nativeDelay) return t.skip('the broker declares capabilities.nativeDelay = false');
      const queue = uniqueQueue('delay');
      const notBefore = new Date(Date.now() + 700);
      await broker.publish(sampleMessage('later'), { queue, notBefore });
      await broker.publish(sampleMessage('now'), { queue, notBefore: null });
      await broker.publish(sampleMessage('past'), { queue, notBefore: new Date(Date.now() - 60_000) });
      const inbox = new Inbox();
      const arrivals: number[] = [];
      const consumer = await broker.consume([queue], (d) => {
        arrivals.push(Date.now());
        inbox.onDelivery(d);
      }, { prefetch: 10 });
      const got = await inbox.waitFor(3, { ...waits, timeoutMs: waits.timeoutMs + 700 });
      await consumer.cancel();
      assert.deepEqual(got.map(tagOf), ['now', 'past', 'later']);
      assert.ok(arrivals[2]! >= notBefore.getTime(), `delivered ${notBefore.getTime() - arrivals[2]!} ms before notBefore`);
      for (const d of got) await inbox.ack(d);
    },
  },
];
