/**
 * Broker conformance, part 2: flow control and lifecycle (prefetch, cancel, close) and the
 * dead-letter store.
 */
import assert from 'node:assert/strict';
import { eventually, Inbox, sampleMessage, sleep, tagOf, uniqueQueue } from './conformance-helpers.js';
import { ErrorCodes, type Consumer } from '@celeriac/core';
import type { BrokerCase } from './broker-case.js';

export const FLOW_CASE_NAMES = [
  'prefetch limit is respected',
  'setPrefetch raises the limit',
  'cancel stops deliveries',
  'cancel from inside the handler',
  'close returns unsettled messages',
  'close is idempotent',
  'dead letter, list and replay',
  'dead letter delete',
  'dead letter after settle is refused',
] as const;
export type FlowCaseName = (typeof FLOW_CASE_NAMES)[number];

export const flowCases: readonly BrokerCase<FlowCaseName>[] = [
  {
    name: 'prefetch limit is respected',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('prefetch');
      await broker.publishMany(Array.from({ length: 10 }, (_, i) => ({ message: sampleMessage(`m${i}`), options: { queue } })));
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 3 });
      await inbox.waitFor(3, waits);
      await sleep(waits.quietMs);
      assert.equal(inbox.received.length, 3, 'more deliveries than the prefetch limit');
      // Settling frees credit one for one; the limit holds throughout.
      for (let i = 0; i < 7; i++) {
        await inbox.ack(inbox.received[i]!);
        await inbox.waitFor(4 + i, waits);
        assert.ok(inbox.unsettled <= 3, `${inbox.unsettled} unsettled deliveries with prefetch 3`);
      }
      await sleep(waits.quietMs);
      await consumer.cancel();
      assert.equal(inbox.maxUnsettled, 3);
      assert.deepEqual(inbox.received.map(tagOf), Array.from({ length: 10 }, (_, i) => `m${i}`));
      for (const d of inbox.received.slice(7)) await inbox.ack(d);
    },
  },
  {
    name: 'setPrefetch raises the limit',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('set-prefetch');
      await broker.publishMany(Array.from({ length: 10 }, (_, i) => ({ message: sampleMessage(`m${i}`), options: { queue } })));
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 2 });
      await inbox.waitFor(2, waits);
      await sleep(waits.quietMs);
      assert.equal(inbox.received.length, 2);
      consumer.setPrefetch(5);
      await inbox.waitFor(5, waits, 'deliveries up to the raised prefetch');
      await sleep(waits.quietMs);
      assert.equal(inbox.received.length, 5, 'more deliveries than the raised prefetch limit');
      await consumer.cancel();
      for (const d of inbox.received) await inbox.ack(d);
    },
  },
  {
    name: 'cancel stops deliveries',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('cancel');
      await broker.publish(sampleMessage('before'), { queue });
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 10 });
      const [before] = await inbox.waitFor(1, waits);
      await consumer.cancel();
      await consumer.cancel();
      await broker.publish(sampleMessage('after'), { queue });
      await sleep(waits.quietMs);
      assert.equal(inbox.received.length, 1, 'a cancelled consumer received a message');
      assert.equal(await broker.size(queue), 1);
      // What was delivered before cancel stays with the caller to settle.
      await inbox.ack(before!);
      assert.equal(await broker.size(queue), 1);
    },
  },
  {
    name: 'cancel from inside the handler',
    async run({ open, waits, serverPrefetch }) {
      const broker = await open();
      const queue = uniqueQueue('cancel-inside');
      const inbox = new Inbox();
      let cancelled = false;
      const consumer: Consumer = await broker.consume([queue], (d) => {
        inbox.onDelivery(d);
        if (!cancelled) {
          cancelled = true;
          void consumer.cancel();
        }
      }, { prefetch: 10 });
      // Published after consume() so the consumer exists by the first delivery, and in one call so
      // a broker that takes batches takes them together.
      await broker.publishMany(['a', 'b', 'c', 'd'].map((tag) => ({ message: sampleMessage(tag), options: { queue } })));
      const [first] = await inbox.waitFor(1, waits);
      await sleep(waits.quietMs);
      assert.equal(inbox.received.length, 1, 'deliveries arrived after cancel() was called from the handler');
      // Messages taken along with the first but not yet handed over must not reach the handler
      // after cancel(), and must be back on the queue, not marked redelivered.
      await eventually(async () => (await broker.size(queue)) === 3, waits.timeoutMs, 'the 3 other messages back on the queue');
      for (const d of inbox.received) await inbox.ack(d);
      const rest = new Inbox();
      const again = await broker.consume([queue], rest.onDelivery, { prefetch: 10 });
      const got = await rest.waitFor(3, waits);
      await again.cancel();
      if (!serverPrefetch) for (const d of got) assert.equal(d.redelivered, false, `${tagOf(d)} was never delivered, so it is not a redelivery`);
      assert.equal(tagOf(first!), 'a');
      for (const d of got) await rest.ack(d);
    },
  },
  {
    name: 'close returns unsettled messages',
    async run({ open, waits }, t) {
      const first = await open();
      if (!first.capabilities.shared) {
        return t.skip('needs capabilities.shared: a second broker instance must see what the first one gave back');
      }
      const queue = uniqueQueue('close-returns');
      await first.publishMany(['a', 'b', 'c'].map((tag) => ({ message: sampleMessage(tag), options: { queue } })));
      const inbox = new Inbox();
      await first.consume([queue], inbox.onDelivery, { prefetch: 2 });
      const held = await inbox.waitFor(2, waits);
      await first.close();
      // Settling after close must not throw; the messages already went back.
      await held[0]!.ack().catch(() => undefined);
      const second = await open();
      assert.equal(await second.size(queue), 3);
      const again = new Inbox();
      const consumer = await second.consume([queue], again.onDelivery, { prefetch: 10 });
      const got = await again.waitFor(3, waits);
      await consumer.cancel();
      const byTag = new Map(got.map((d) => [tagOf(d), d]));
      assert.deepEqual([...byTag.keys()].sort(), ['a', 'b', 'c']);
      for (const d of held) assert.equal(byTag.get(tagOf(d))!.redelivered, true, `${tagOf(d)} should be marked redelivered`);
      for (const d of got) await again.ack(d);
    },
  },
  {
    name: 'close is idempotent',
    async run({ open }) {
      const broker = await open();
      await broker.close();
      await broker.close();
    },
  },
  {
    name: 'dead letter, list and replay',
    async run({ open, waits, assertSameMessage }) {
      const broker = await open();
      const queue = uniqueQueue('dead-letter');
      const message = sampleMessage('poison', { priority: 2 });
      await broker.publish(message, { queue, priority: 2 });
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 1 });
      const [d] = await inbox.waitFor(1, waits);
      inbox.unsettled--; // deadLetter settles it
      await broker.deadLetter(d!, { code: 'conformance:test', message: 'set aside by the conformance suite' });
      await consumer.cancel();
      assert.equal(await broker.size(queue), 0);

      const entries = await broker.listDeadLetters({ queue });
      assert.equal(entries.length, 1);
      const entry = entries[0]!;
      assert.equal(entry.queue, queue);
      assert.deepEqual(entry.reason, { code: 'conformance:test', message: 'set aside by the conformance suite' });
      assertSameMessage(entry.message, message);
      assert.ok(entry.deadLetteredAt instanceof Date && !Number.isNaN(entry.deadLetteredAt.getTime()));
      assert.equal(typeof entry.id, 'string');
      assert.deepEqual((await broker.listDeadLetters({ queue, limit: 0 })).length, 0);

      assert.equal(await broker.replayDeadLetter(entry.id), true);
      assert.equal(await broker.replayDeadLetter(entry.id), false);
      assert.deepEqual(await broker.listDeadLetters({ queue }), []);
      const again = new Inbox();
      const consumer2 = await broker.consume([queue], again.onDelivery, { prefetch: 1 });
      const [replayed] = await again.waitFor(1, waits, 'the replayed message');
      await consumer2.cancel();
      assertSameMessage(replayed!.message, message);
      await again.ack(replayed!);
    },
  },
  {
    name: 'dead letter delete',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('dead-letter-delete');
      await broker.publishMany(['x', 'y'].map((tag) => ({ message: sampleMessage(tag), options: { queue } })));
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: 2 });
      const got = await inbox.waitFor(2, waits);
      await consumer.cancel();
      for (const d of got) await broker.deadLetter(d, { code: 'conformance:test', message: tagOf(d) });
      const entries = await broker.listDeadLetters({ queue });
      assert.equal(entries.length, 2);
      assert.equal((await broker.listDeadLetters({ queue, limit: 1 })).length, 1);
      const x = entries.find((e) => e.reason.message === 'x')!;
      assert.equal(await broker.deleteDeadLetter(x.id), true);
      assert.equal(await broker.deleteDeadLetter(x.id), false);
      assert.equal(await broker.replayDeadLetter(x.id), false);
      assert.deepEqual((await broker.listDeadLetters({ queue })).map((e) => e.reason.message), ['y']);
      assert.equal(await broker.size(queue), 0);
    },
  },
  {
    // A delivery is settled once: dead-lettering one already acked, rejected or dead-lettered
    // throws a StateError instead of recording an entry for a message the broker no longer holds
    // (or, after a requeue, holds again as another delivery).
    name: 'dead letter after settle is refused',
    async run({ open, waits }) {
      const broker = await open();
      const queue = uniqueQueue('dead-letter-settled');
      const tags = ['acked', 'dropped', 'requeued', 'dead'];
      await broker.publishMany(tags.map((tag) => ({ message: sampleMessage(tag), options: { queue } })));
      const inbox = new Inbox();
      const consumer = await broker.consume([queue], inbox.onDelivery, { prefetch: tags.length });
      const got = new Map((await inbox.waitFor(tags.length, waits)).map((d) => [tagOf(d), d]));
      const [acked, dropped, requeued, dead] = tags.map((tag) => got.get(tag)!);
      await inbox.ack(acked!);
      await inbox.reject(dropped!, false);
      await inbox.reject(requeued!, true);
      inbox.unsettled--; // deadLetter settles it
      await broker.deadLetter(dead!, { code: 'conformance:test', message: 'dead' });
      // The requeued message is held again, as a new delivery, while its old one is refused.
      const [again] = (await inbox.waitFor(tags.length + 1, waits, 'the requeued message')).slice(tags.length);
      assert.equal(tagOf(again!), 'requeued');
      for (const [tag, d] of [['acked', acked], ['dropped', dropped], ['requeued', requeued], ['dead', dead]] as const) {
        await assert.rejects(
          broker.deadLetter(d!, { code: 'conformance:test', message: `late ${tag}` }),
          (err: { code?: unknown; message?: unknown }) => err.code === ErrorCodes.STATE && /dead-lettered/.test(String(err.message)),
          `dead-lettering the ${tag} delivery must throw a StateError`,
        );
      }
      await inbox.ack(again!);
      await consumer.cancel();
      assert.deepEqual((await broker.listDeadLetters({ queue })).map((e) => e.reason.message), ['dead']);
      assert.equal(await broker.size(queue), 0);
    },
  },
];
