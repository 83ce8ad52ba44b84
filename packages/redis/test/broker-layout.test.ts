/**
 * What the broker writes in Redis, key by key, against the layout kombu uses (and Python workers
 * read): the list element, the binding, priority lists and their order, `unacked` /
 * `unacked_index` while a message is held, ack, reject with requeue, and restoring entries that a
 * dead Python worker left behind. Every key lives under the test's own prefix.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Inbox, eventually } from '@celeriac/testing';
import { TAKE } from '../src/broker-scripts.js';
import { PrefixScope, redisSkipReason, tagOf, taskMessage } from './broker-fixture.js';

const SEP = '\x06\x16';
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const waits = { timeoutMs: 5000, quietMs: 300 };
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../core/test/fixtures/celery-5.2/${name}`, import.meta.url), 'utf8')) as {
    envelope: { properties: Record<string, unknown>; headers: Record<string, unknown> };
    body_text: string;
  };

const skip = await redisSkipReason();

describe('redis broker: keys and values in Redis', { skip }, () => {
  // Each test has its own prefix: its own queues, bindings, unacked and dead letters.
  let scope: PrefixScope;
  beforeEach(() => {
    scope = new PrefixScope('layout');
  });
  afterEach(() => scope.cleanup());

  it('publishes kombu\'s envelope with LPUSH and declares the queue binding like Celery', async () => {
    const broker = scope.broker();
    await broker.publish(taskMessage('a'), { queue: 'tasks' });
    const [text, ...rest] = await scope.redis.lrange(scope.key('tasks'), 0, -1);
    assert.equal(rest.length, 0);
    const envelope = JSON.parse(text!) as Record<string, unknown> & { properties: Record<string, unknown> };
    assert.deepEqual(Object.keys(envelope), ['body', 'content-encoding', 'content-type', 'headers', 'properties']);
    assert.deepEqual(Object.keys(envelope.properties).slice(-4), ['delivery_info', 'priority', 'body_encoding', 'delivery_tag']);
    assert.deepEqual(envelope.properties['delivery_info'], { exchange: '', routing_key: 'tasks' });
    assert.equal(envelope.properties['priority'], 0);
    assert.equal(envelope.properties['body_encoding'], 'base64');
    assert.match(String(envelope.properties['delivery_tag']), UUID4);
    assert.equal(Buffer.from(String(envelope['body']), 'base64').toString(), taskMessage('a').body);
    assert.deepEqual(await scope.redis.smembers(scope.key('_kombu.binding.tasks')), [`tasks${SEP}${SEP}tasks`]);
    assert.equal(await broker.purge('tasks'), 1);
  });

  it('routes priorities to kombu\'s four lists and serves the lower number first', async () => {
    const broker = scope.broker();
    const sent = [5, 0, 9, 3, undefined, 7, 12, 1, 6, -2];
    await broker.publishMany(sent.map((p, i) => ({ message: taskMessage(`m${i}`), options: { queue: 'prio', ...(p === undefined ? {} : { priority: p }) } })));
    const lens = await Promise.all(['prio', `prio${SEP}3`, `prio${SEP}6`, `prio${SEP}9`].map((k) => scope.redis.llen(scope.key(k))));
    assert.deepEqual(lens, [4, 2, 2, 2]); // 0,undefined,1,-2 | 5,3 | 7,6 | 9,12
    const inbox = new Inbox();
    const consumer = await broker.consume(['prio'], inbox.onDelivery, { prefetch: 1 });
    for (let i = 0; i < sent.length; i++) {
      await inbox.waitFor(i + 1, waits);
      await inbox.ack(inbox.received[i]!);
    }
    await consumer.cancel();
    // Within a list, FIFO; lists in step order; the clamped priority is the delivery's.
    assert.deepEqual(inbox.received.map((d) => tagOf(d.message)), ['m1', 'm4', 'm7', 'm9', 'm0', 'm3', 'm5', 'm8', 'm2', 'm6']);
    assert.deepEqual(inbox.received.map((d) => d.priority), [0, 0, 1, 0, 5, 3, 7, 6, 9, 9]);
  });

  it('consumes an envelope exactly as Celery 5.2 pushed it', async () => {
    const broker = scope.broker();
    const { envelope, body_text } = fixture('task-options.json');
    const python = { ...envelope, properties: { ...envelope.properties, delivery_info: { exchange: '', routing_key: 'py' } } };
    await scope.redis.lpush(scope.key(`py${SEP}6`), JSON.stringify(python));
    const inbox = new Inbox();
    const consumer = await broker.consume(['py'], inbox.onDelivery, { prefetch: 1 });
    const [d] = await inbox.waitFor(1, waits);
    await consumer.cancel();
    assert.equal(d!.message.body, body_text);
    assert.deepEqual(d!.message.headers, envelope.headers);
    assert.equal(d!.deliveryTag, envelope.properties['delivery_tag']);
    assert.equal(d!.priority, 7);
    await inbox.ack(d!);
  });

  it('holds a taken message in unacked and unacked_index, and ack removes both', async () => {
    const broker = scope.broker();
    await broker.publish(taskMessage('held'), { queue: 'held' });
    const [published] = await scope.redis.lrange(scope.key('held'), 0, -1);
    const inbox = new Inbox();
    const consumer = await broker.consume(['held'], inbox.onDelivery, { prefetch: 1 });
    const [d] = await inbox.waitFor(1, waits);
    await consumer.cancel();
    const entry = await scope.redis.hget(scope.key('unacked'), d!.deliveryTag);
    assert.deepEqual(JSON.parse(entry!), [JSON.parse(published!), '', 'held']);
    const score = Number(await scope.redis.zscore(scope.key('unacked_index'), d!.deliveryTag));
    const [serverSeconds] = await scope.redis.time();
    assert.ok(Math.abs(score - Number(serverSeconds)) < 60, `score ${score} is not an epoch-seconds time near ${serverSeconds}`);
    await inbox.ack(d!);
    assert.equal(await scope.redis.hexists(scope.key('unacked'), d!.deliveryTag), 0);
    assert.equal(await scope.redis.zscore(scope.key('unacked_index'), d!.deliveryTag), null);
  });

  it('reject with requeue puts the message at the back, marked redelivered, same tag (kombu)', async () => {
    const broker = scope.broker();
    await broker.publishMany(['first', 'second'].map((t) => ({ message: taskMessage(t), options: { queue: 'rq' } })));
    const inbox = new Inbox();
    const consumer = await broker.consume(['rq'], inbox.onDelivery, { prefetch: 1 });
    const [first] = await inbox.waitFor(1, waits);
    await inbox.reject(first!, true);
    const [, second] = await inbox.waitFor(2, waits);
    assert.equal(tagOf(second!.message), 'second');
    await inbox.ack(second!);
    const [, , again] = await inbox.waitFor(3, waits);
    await consumer.cancel();
    assert.equal(tagOf(again!.message), 'first');
    assert.equal(again!.redelivered, true);
    assert.equal(again!.deliveryTag, first!.deliveryTag);
    assert.equal(again!.message.headers['redelivered'], true);
    assert.deepEqual(again!.message.properties['delivery_info'], { exchange: '', routing_key: 'rq', redelivered: true });
    await inbox.ack(again!);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
  });

  it('restores what a dead Python worker left in unacked: next in line, marked, same tag', async () => {
    const { envelope } = fixture('task-retry.json');
    const tag = String(envelope.properties['delivery_tag']);
    const python = { ...envelope, properties: { ...envelope.properties, delivery_info: { exchange: '', routing_key: 'dead' } } };
    // As kombu writes them (Python's json.dumps separators), scored two hours ago.
    await scope.redis.hset(scope.key('unacked'), tag, `[${JSON.stringify(python)}, "", "dead"]`);
    await scope.redis.zadd(scope.key('unacked_index'), Date.now() / 1000 - 7200, tag);
    // One via a named exchange, routed through its binding as kombu's restore does.
    const viaExchange = { ...python, properties: { ...python.properties, delivery_tag: 'tag-via-exchange' } };
    await scope.redis.sadd(scope.key('_kombu.binding.celery'), `dead-key${SEP}${SEP}dead`);
    await scope.redis.hset(scope.key('unacked'), 'tag-via-exchange', JSON.stringify([viaExchange, 'celery', 'dead-key']));
    await scope.redis.zadd(scope.key('unacked_index'), Date.now() / 1000 - 7200, 'tag-via-exchange');
    const broker = scope.broker({ visibilityTimeout: 3600 });
    await broker.publish(taskMessage('waiting'), { queue: 'dead' });
    const inbox = new Inbox();
    const consumer = await broker.consume(['dead'], inbox.onDelivery, { prefetch: 10 });
    const got = await inbox.waitFor(3, waits);
    await consumer.cancel();
    const restored = got.filter((d) => d.redelivered);
    assert.deepEqual(restored.map((d) => d.deliveryTag).sort(), [tag, 'tag-via-exchange'].sort());
    for (const d of restored) assert.equal(d.message.headers['redelivered'], true);
    // RPUSH: consumed before the message that was already waiting.
    assert.equal(tagOf(got[2]!.message), 'waiting');
    for (const d of got) await inbox.ack(d);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
  });

  it('renews what it holds, so a consumer with the same short timeout does not take it', async () => {
    const holder = scope.broker({ visibilityTimeout: 1 });
    await holder.publish(taskMessage('kept'), { queue: 'renew' });
    const inbox = new Inbox();
    const consumer = await holder.consume(['renew'], inbox.onDelivery, { prefetch: 1 });
    const [d] = await inbox.waitFor(1, waits);
    const first = Number(await scope.redis.zscore(scope.key('unacked_index'), d!.deliveryTag));
    const other = new Inbox();
    const otherBroker = scope.broker({ visibilityTimeout: 1 });
    const otherConsumer = await otherBroker.consume(['renew'], other.onDelivery, { prefetch: 1 });
    // Wait past the timeout, until the score has moved on by more than the timeout itself.
    await eventually(async () => Number(await scope.redis.zscore(scope.key('unacked_index'), d!.deliveryTag)) > first + 1.5, waits.timeoutMs, 'the held message to be renewed');
    assert.equal(other.received.length, 0, 'another consumer restored and took a message this broker still held');
    await inbox.ack(d!);
    await consumer.cancel();
    await otherConsumer.cancel();
  });

  it('takes in batches of half the prefetch (8 or more), the next one asked for before a full batch runs, up to the credit', async () => {
    const broker = scope.broker();
    await broker.publishMany(Array.from({ length: 60 }, (_, i) => ({ message: taskMessage(`b${i}`), options: { queue: 'batch' } })));
    const sizes: number[] = [];
    const run = TAKE.runFlat.bind(TAKE);
    TAKE.runFlat = async (client, keyCount, all) => {
      const reply = (await run(client, keyCount, all)) as [unknown, unknown[], unknown];
      if (reply[1].length) sizes.push(reply[1].length / 4);
      return reply;
    };
    try {
      const inbox = new Inbox();
      const consumer = await broker.consume(['batch'], inbox.onDelivery, { prefetch: 50 });
      await inbox.waitFor(50, waits);
      // 25 at the end of the turn, then 25 more sent at once as the first 25 arrive: 50 held.
      assert.deepEqual(sizes, [25, 25]);
      for (const d of inbox.received.slice(0, 50)) await inbox.ack(d);
      await inbox.waitFor(60, waits);
      await consumer.cancel();
      assert.equal(sizes.reduce((a, b) => a + b, 0), 60);
      for (const d of inbox.received.slice(50)) await inbox.ack(d);
    } finally {
      TAKE.runFlat = run;
    }
  });

  it('serves several queues round-robin within a priority', async () => {
    const broker = scope.broker();
    await broker.publishMany([
      ...['a1', 'a2', 'a3'].map((t) => ({ message: taskMessage(t), options: { queue: 'rr-a' } })),
      ...['b1', 'b2', 'b3'].map((t) => ({ message: taskMessage(t), options: { queue: 'rr-b' } })),
    ]);
    const inbox = new Inbox();
    const consumer = await broker.consume(['rr-a', 'rr-b'], inbox.onDelivery, { prefetch: 6 });
    await inbox.waitFor(6, waits);
    await consumer.cancel();
    assert.deepEqual(inbox.received.map((d) => tagOf(d.message)), ['a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
    for (const d of inbox.received) await inbox.ack(d);
  });
});
