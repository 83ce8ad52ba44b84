/**
 * A consumer process killed with SIGKILL while it holds messages: they are in `unacked` (taken and
 * recorded in one step), and another consumer gets them back, marked redelivered under the same
 * delivery tags, once the visibility timeout has passed.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Inbox } from '@celeriac/testing';
import { PrefixScope, redisSkipReason, startChild, taskMessage, withPrefix, REDIS_URL } from './broker-fixture.js';

const skip = await redisSkipReason();

describe('redis broker: a consumer killed while holding messages', { skip }, () => {
  // Each test has its own prefix: its own queues, bindings, unacked and dead letters.
  let scope: PrefixScope;
  beforeEach(() => {
    scope = new PrefixScope('crash');
  });
  afterEach(() => scope.cleanup());

  it('another consumer gets them back after the visibility timeout', async () => {
    const producer = scope.broker();
    await producer.publishMany(['a', 'b', 'c', 'd', 'e'].map((t) => ({ message: taskMessage(t), options: { queue: 'work' } })));
    const url = `${withPrefix(REDIS_URL, scope.prefix)}&visibility_timeout=1`;
    let held: string[] = [];
    const holding = new Promise<void>((resolve) => {
      const child = startChild('broker-child-holder.ts', [url, 'work', '3'], (line) => {
        if (!line.startsWith('holding ')) return;
        held = line.slice('holding '.length).split(' ');
        process.kill(child.pid!, 'SIGKILL');
        child.once('exit', () => resolve());
      });
    });
    await holding;
    assert.equal(held.length, 3);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 3, 'the messages the child held are recorded in unacked');
    assert.equal(await producer.size('work'), 2);

    const rescuer = scope.broker({ visibilityTimeout: 1 });
    const inbox = new Inbox();
    const consumer = await rescuer.consume(['work'], inbox.onDelivery, { prefetch: 10 });
    const got = await inbox.waitFor(5, { timeoutMs: 15_000, quietMs: 0 });
    await consumer.cancel();
    const redelivered = got.filter((d) => d.redelivered).map((d) => d.deliveryTag);
    assert.deepEqual(redelivered.sort(), [...held].sort());
    for (const d of got) await inbox.ack(d);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
  });
});
