/**
 * Landing lists (src/landing.ts): an idle consumer's wait moves a message from its queue into a
 * list of the consumer's own. What a message there becomes: acknowledged out of it (see
 * broker-round-trips.test.ts), recorded in `unacked` when nobody settled it in its first turn,
 * requeued or dead-lettered straight from it, and given back to its queue when its consumer is
 * gone (killed mid-turn), marked redelivered, by another consumer's sweep.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { silentLogger, type Delivery } from '@celeriac/core';
import { Inbox, eventually } from '@celeriac/testing';
import { KombuKeys } from '../src/kombu-keys.js';
import { restoreLandings, returnLanded } from '../src/landing.js';
import { PrefixScope, redisSkipReason, REDIS_URL, startChild, tagOf, taskMessage, withPrefix } from './broker-fixture.js';

const skip = await redisSkipReason();
const waits = { timeoutMs: 5000, quietMs: 300 };

describe('redis broker: landing lists', { skip }, () => {
  let scope: PrefixScope;
  beforeEach(() => {
    scope = new PrefixScope('landing');
  });
  afterEach(() => scope.cleanup());

  /** The consumer's landing lists under this test's prefix, and what they hold. */
  const landed = async (): Promise<string[]> => {
    const lists = await scope.redis.keys(`${scope.key('celeriac.landing.')}*`);
    const out: string[] = [];
    for (const list of lists) out.push(...(await scope.redis.lrange(list, 0, -1)));
    return out;
  };
  /** Resolves once the consumer waits (a wait has moved nothing yet). */
  const waiting = () => eventually(async () => (await scope.redis.scard(scope.key('celeriac.landings'))) === 1, waits.timeoutMs, 'the consumer to wait');

  it('records in unacked, as kombu does, a landed message nobody settled in its first turn', async () => {
    const broker = scope.broker();
    const inbox = new Inbox();
    const consumer = await broker.consume(['q'], inbox.onDelivery, { prefetch: 4 });
    await waiting();
    await broker.publish(taskMessage('late'), { queue: 'q' });
    const [delivery] = await inbox.waitFor(1, waits);
    await eventually(async () => (await scope.redis.hlen(scope.key('unacked'))) === 1, waits.timeoutMs, 'the record in unacked');
    assert.deepEqual(await landed(), []);
    const entry = JSON.parse((await scope.redis.hget(scope.key('unacked'), delivery!.deliveryTag))!) as unknown[];
    assert.equal(entry.length, 3);
    assert.deepEqual(entry.slice(1), ['', 'q']);
    assert.equal(await scope.redis.zcard(scope.key('unacked_index')), 1);
    await inbox.ack(delivery!);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    assert.equal(await scope.redis.zcard(scope.key('unacked_index')), 0);
    await consumer.cancel();
  });

  it('requeues a landed message at the back of its queue, marked redelivered', async () => {
    const broker = scope.broker();
    const rejected: Promise<void>[] = [];
    const consumer = await broker.consume(['q'], (d: Delivery) => void rejected.push(d.reject(true)), { prefetch: 1 });
    await waiting();
    await broker.publish(taskMessage('again'), { queue: 'q' });
    await eventually(async () => rejected.length >= 1, waits.timeoutMs, 'the delivery');
    await consumer.cancel();
    await Promise.all(rejected);
    assert.deepEqual(await landed(), []);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    // Delivered again and again until cancelled; what is queued now is that one message.
    const queued = await scope.redis.lrange(scope.key('q'), 0, -1);
    assert.equal(queued.length, 1);
    const envelope = JSON.parse(queued[0]!) as { headers: { tag: string; redelivered?: boolean } };
    assert.equal(envelope.headers.tag, 'again');
    assert.equal(envelope.headers.redelivered, true);
  });

  /** An envelope whose tag header holds a byte that is not UTF-8 (0xFF): still JSON, read lossily. */
  const notUtf8 = async (broker: ReturnType<PrefixScope['broker']>): Promise<Buffer> => {
    await broker.publish(taskMessage('MARK'), { queue: 'tmp' });
    const [before, after] = (await scope.redis.lpop(scope.key('tmp')))!.split('MARK');
    return Buffer.concat([Buffer.from(before!), Buffer.from([0x62, 0xff]), Buffer.from(after!)]);
  };

  it('acknowledges a landed message that is not UTF-8 by its exact bytes, in its first turn and after its record', async () => {
    const broker = scope.broker();
    const got: Delivery[] = [];
    const acked: Promise<void>[] = [];
    // The first is acknowledged in the turn it landed in (its LREM names its bytes); the second is
    // left unsettled, so it is recorded from the landing list into unacked by its bytes.
    const consumer = await broker.consume(['q'], (d: Delivery) => void (got.push(d) === 1 && acked.push(d.ack())), { prefetch: 4 });
    await waiting();
    await scope.redis.lpush(scope.key('q'), await notUtf8(broker));
    await eventually(async () => acked.length === 1, waits.timeoutMs, 'the first delivery');
    await acked[0];
    assert.equal(tagOf(got[0]!.message), 'b\uFFFD');
    assert.deepEqual(await landed(), []);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    await scope.redis.lpush(scope.key('q'), await notUtf8(broker));
    await eventually(async () => (await scope.redis.hlen(scope.key('unacked'))) === 1, waits.timeoutMs, 'the record in unacked');
    assert.deepEqual(await landed(), []);
    await got[1]!.ack();
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    await consumer.cancel();
  });

  it('dead-letters a malformed element that lands, with its reason, and goes on', async () => {
    const broker = scope.broker();
    const inbox = new Inbox();
    const consumer = await broker.consume(['q'], inbox.onDelivery, { prefetch: 4 });
    await waiting();
    await scope.redis.lpush(scope.key('q'), 'not json at all {');
    await eventually(async () => (await broker.listDeadLetters({ queue: 'q' })).length === 1, waits.timeoutMs, 'the dead letter');
    const [entry] = await broker.listDeadLetters({ queue: 'q' });
    assert.equal(entry!.raw, 'not json at all {');
    assert.equal(entry!.reason.code, 'bad-message:envelope-not-json');
    await broker.publish(taskMessage('good'), { queue: 'q' });
    const [good] = await inbox.waitFor(1, waits, 'a message after the malformed one');
    assert.equal(tagOf(good!.message), 'good');
    await inbox.ack(good!);
    await consumer.cancel();
    assert.deepEqual(await landed(), []);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
  });

  it('gives back what a consumer killed mid-turn left in its landing list, once its alive key expires', async () => {
    const url = `${withPrefix(REDIS_URL, scope.prefix)}&visibility_timeout=1`;
    const producer = scope.broker();
    let tag = '';
    await new Promise<void>((resolve, reject) => {
      const child = startChild('broker-child-lander.ts', [url, 'work'], (line) => {
        if (line === 'waiting') {
          // Once it waits (its list is named right before the wait, in the same write), the
          // message lands in its list rather than going to its first take.
          waiting()
            .then(() => producer.publish(taskMessage('stranded'), { queue: 'work' }))
            .catch(reject);
        } else if (line.startsWith('landed ')) {
          tag = line.slice('landed '.length);
          process.kill(child.pid!, 'SIGKILL');
          child.once('exit', () => resolve());
        }
      });
    });
    // Neither acknowledged nor recorded: in the dead consumer's landing list only.
    assert.equal((await landed()).length, 1);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    assert.equal(await producer.size('work'), 0);

    const rescuer = scope.broker({ visibilityTimeout: 1 });
    const inbox = new Inbox();
    const consumer = await rescuer.consume(['work'], inbox.onDelivery, { prefetch: 4 });
    const [back] = await inbox.waitFor(1, { timeoutMs: 15_000, quietMs: 0 }, 'the stranded message');
    assert.equal(back!.deliveryTag, tag);
    assert.equal(back!.redelivered, true);
    assert.equal(tagOf(back!.message), 'stranded');
    await inbox.ack(back!);
    await consumer.cancel();
    assert.deepEqual(await landed(), []);
    assert.equal(await scope.redis.scard(scope.key('celeriac.landings')), 0, 'the dead consumer\'s list is still named');
  });

  it('the sweep leaves alone the landing list of a consumer whose alive key is there', async () => {
    const keys = new KombuKeys(scope.prefix, 0);
    const [alive, dead] = [randomUUID(), randomUUID()];
    const envelope = (tag: string) => JSON.stringify({ body: 'W10=', headers: { tag }, properties: { delivery_tag: tag, delivery_info: { exchange: '', routing_key: 'q' } } });
    await scope.redis.sadd(keys.landings, `${alive}:q`, `${dead}:q`);
    await scope.redis.set(keys.alive(alive), '1', 'PX', 60_000);
    await scope.redis.lpush(keys.landing(`${alive}:q`), envelope('kept'));
    // As two waits leave them: the older on the right.
    await scope.redis.lpush(keys.landing(`${dead}:q`), envelope('older'), envelope('newer'));

    assert.equal(await restoreLandings(scope.redis, keys, silentLogger), 2);
    assert.deepEqual(await scope.redis.smembers(keys.landings), [`${alive}:q`]);
    assert.equal(await scope.redis.llen(keys.landing(`${alive}:q`)), 1);
    // Consumed from the right: the older first, both marked redelivered.
    const first = JSON.parse((await scope.redis.rpop(scope.key('q')))!) as { headers: { tag: string; redelivered: boolean } };
    const second = JSON.parse((await scope.redis.rpop(scope.key('q')))!) as { headers: { tag: string; redelivered: boolean } };
    assert.deepEqual([first.headers, second.headers], [{ tag: 'older', redelivered: true }, { tag: 'newer', redelivered: true }]);
  });

  it('moves nothing for a sweep once the consumer is back, in the same script that would move it', async () => {
    const keys = new KombuKeys(scope.prefix, 0);
    const id = randomUUID();
    const list = keys.landing(`${id}:q`);
    await scope.redis.lpush(list, 'an element');
    const items = [{ raw: Buffer.from('an element'), target: scope.key('q'), pushed: 'an element' }];
    // The consumer set its key again between the sweep's look and its move.
    await scope.redis.set(keys.alive(id), '1', 'PX', 60_000);
    assert.equal(await returnLanded(scope.redis, list, items, 'R', keys.alive(id)), -1);
    assert.equal(await scope.redis.llen(list), 1);
    assert.equal(await scope.redis.llen(scope.key('q')), 0);
    await scope.redis.del(keys.alive(id));
    assert.equal(await returnLanded(scope.redis, list, items, 'R', keys.alive(id)), 1);
    assert.deepEqual(await scope.redis.lrange(scope.key('q'), 0, -1), ['an element']);
  });

  it('keeps the alive key longer than the longest wait, whatever the visibility timeout', async () => {
    const broker = scope.broker({ visibilityTimeout: 1, blockTimeoutMs: 3000 });
    const consumer = await broker.consume(['q'], () => undefined, { prefetch: 1 });
    await waiting();
    const [member] = await scope.redis.smembers(scope.key('celeriac.landings'));
    const ttl = await scope.redis.pttl(scope.key(`celeriac.alive.${member!.split(':')[0]}`));
    // Set at most every quarter of its life, before a wait: it must outlive a wait begun just before that.
    assert.ok(ttl > 3000 + 7000 / 4, `the alive key lives ${ttl} ms, for waits of 3,000 ms`);
    await consumer.cancel();
  });
});
