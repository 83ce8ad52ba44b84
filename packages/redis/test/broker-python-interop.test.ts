/**
 * The Redis broker against real Python Celery 5.2 / kombu 5.2.4 (`/usr/bin/python3`, Debian's
 * python3-celery), every key under the test's prefix (kombu's `global_keyprefix`): a Celery client's
 * task reaches a celeriac consumer; a celeriac message is read and acked by kombu's channel; and
 * kombu's own restore sweep puts back a message a celeriac consumer left in `unacked`.
 *
 * Skipped (with the reason) when Redis or python3-celery is missing and CI is unset.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTaskMessage, decodeTaskMessage, encodeTaskMessage, type Delivery } from '@celeriac/core';
import { Inbox } from '@celeriac/testing';
import { PrefixScope, REDIS_URL, redisSkipReason } from './broker-fixture.js';

const PYTHON = process.env['CELERIAC_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/broker_interop.py', import.meta.url));
const waits = { timeoutMs: 10_000, quietMs: 0 };

function pythonSkipReason(): string | false {
  const probe = spawnSync(PYTHON, ['-c', 'import celery, redis; assert celery.VERSION[:2] == (5, 2), celery.__version__']);
  if (probe.status === 0) return false;
  const reason = `Python Celery 5.2 with redis-py is not available at ${PYTHON} (apt-get install -y python3-celery python3-redis)`;
  if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
  return reason;
}

const skip = (await redisSkipReason()) || pythonSkipReason();

describe('redis broker: Python Celery 5.2 on the same queues', { skip }, () => {
  // Each test has its own prefix: its own queues, bindings, unacked and dead letters.
  let scope: PrefixScope;
  beforeEach(() => {
    scope = new PrefixScope('python');
  });
  afterEach(() => scope.cleanup());

  const python = <T>(...args: string[]): Promise<T> =>
    new Promise((resolve, reject) => {
      execFile(PYTHON, [SCRIPT, REDIS_URL, scope.prefix, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
        if (error) return reject(new Error(`python ${args[0]} failed: ${stderr || error.message}`));
        resolve(JSON.parse(stdout) as T);
      });
    });

  it('a Celery client\'s task reaches a celeriac consumer', async () => {
    const id = '5e1ec7ed-0000-4000-8000-000000000001';
    await python('send', 'from-python', id, '5');
    const broker = scope.broker();
    const inbox = new Inbox();
    const consumer = await broker.consume(['from-python'], inbox.onDelivery, { prefetch: 1 });
    const [d] = await inbox.waitFor(1, waits);
    await consumer.cancel();
    const task = decodeTaskMessage(d!.message);
    assert.equal(task.headers.task, 'interop.add');
    assert.equal(task.headers.id, id);
    assert.deepEqual(task.args, [2, 3]);
    assert.equal(d!.priority, 5);
    assert.equal(d!.redelivered, false);
    await inbox.ack(d!);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
  });

  it('kombu reads and acks what celeriac publishes', async () => {
    const broker = scope.broker();
    const id = '5e1ec7ed-0000-4000-8000-000000000002';
    const message = encodeTaskMessage(buildTaskMessage({ task: 'interop.add', id, args: [2, 3], kwargs: { z: 'é' }, origin: 'gen1@js', replyTo: 'r', now: new Date() }));
    await broker.publish(message, { queue: 'to-python', priority: 7 });
    const got = await python<{
      headers: Record<string, unknown>;
      properties: Record<string, unknown>;
      delivery_info: Record<string, unknown>;
      body: unknown;
      content_type: string;
      held_in_unacked: boolean;
      in_unacked_after_ack: boolean;
    }>('get', 'to-python');
    assert.deepEqual(got.headers, message.headers);
    assert.deepEqual(got.body, [[2, 3], { z: 'é' }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    assert.equal(got.content_type, 'application/json');
    assert.deepEqual(got.delivery_info, { exchange: '', routing_key: 'to-python' });
    assert.equal(got.properties['priority'], 7);
    assert.equal(got.held_in_unacked, true);
    assert.equal(got.in_unacked_after_ack, false);
    assert.equal(await broker.size('to-python'), 0);
  });

  it('kombu\'s restore sweep puts back what a celeriac consumer left in unacked', async () => {
    const broker = scope.broker();
    await broker.publish(encodeTaskMessage(buildTaskMessage({ task: 'interop.add', id: '5e1ec7ed-0000-4000-8000-000000000003', origin: 'o', replyTo: 'r', now: new Date() })), { queue: 'left' });
    const inbox = new Inbox();
    const consumer = await broker.consume(['left'], inbox.onDelivery, { prefetch: 1 });
    const [held] = (await inbox.waitFor(1, waits)) as [Delivery];
    await consumer.cancel();
    // As if the consumer had died an hour ago: its score is old, nobody renews it.
    await scope.redis.zadd(scope.key('unacked_index'), 'XX', Date.now() / 1000 - 3600, held.deliveryTag);
    await python('restore', '60');
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0, 'kombu restored the entry');
    const again = new Inbox();
    const rescuer = scope.broker();
    const consumer2 = await rescuer.consume(['left'], again.onDelivery, { prefetch: 1 });
    const [d] = await again.waitFor(1, waits);
    await consumer2.cancel();
    assert.equal(d!.deliveryTag, held.deliveryTag);
    assert.equal(d!.redelivered, true);
    await again.ack(d!);
    // The first delivery's settle is a no-op now: its entry is gone (counted as lost, not re-applied).
    await held.ack();
  });
});
