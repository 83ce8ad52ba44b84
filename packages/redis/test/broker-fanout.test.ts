/**
 * Fanout over Pub/Sub as kombu does it: channel names, binding members, `#` patterns, the
 * envelope, and receiving what a Python publisher would send.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { eventually } from '@celeriac/testing';
import type { FanoutMessage } from '@celeriac/redis';
import { PrefixScope, redisSkipReason, tagOf, taskMessage } from './broker-fixture.js';

const SEP = '\x06\x16';
const skip = await redisSkipReason();

describe('redis broker: fanout', { skip }, () => {
  // Each test has its own prefix: its own queues, bindings, unacked and dead letters.
  let scope: PrefixScope;
  beforeEach(() => {
    scope = new PrefixScope('fanout');
  });
  afterEach(() => scope.cleanup());

  it('delivers to every subscriber whose binding key matches, with kombu\'s channels and bindings', async () => {
    const broker = scope.broker();
    const all: FanoutMessage[] = [];
    const workers: FanoutMessage[] = [];
    const monitor = await broker.subscribeFanout({ exchange: 'celeryev', bindingKey: '#', queue: 'celeryev.monitor' }, (m) => all.push(m));
    const gossip = await broker.subscribeFanout({ exchange: 'celeryev', bindingKey: 'worker.#', queue: 'celeryev.gossip' }, (m) => workers.push(m));
    assert.deepEqual((await scope.redis.smembers(scope.key('_kombu.binding.celeryev'))).sort(), [`#${SEP}${SEP}celeryev.monitor`, `worker.#${SEP}${SEP}celeryev.gossip`]);

    assert.equal(await broker.publishFanout('celeryev', 'task.multi', taskMessage('t1')), 1);
    assert.equal(await broker.publishFanout('celeryev', 'worker.heartbeat', taskMessage('w1')), 2);
    await eventually(() => all.length === 2 && workers.length === 1, 5000, 'the fanout messages');
    assert.deepEqual(all.map((m) => [m.exchange, m.routingKey, tagOf(m.message)]), [['celeryev', 'task.multi', 't1'], ['celeryev', 'worker.heartbeat', 'w1']]);
    assert.deepEqual(workers.map((m) => tagOf(m.message)), ['w1']);
    assert.deepEqual(all[0]!.message.properties['delivery_info'], { exchange: 'celeryev', routing_key: 'task.multi' });

    // What a Python publisher sends: PUBLISH /<db>.<exchange>/<routing key> <envelope>.
    const python = JSON.stringify({
      body: Buffer.from('{"hostname": "w1@vm"}').toString('base64'), 'content-encoding': 'utf-8', 'content-type': 'application/json',
      headers: { hostname: 'w1@vm' }, properties: { delivery_mode: 1, delivery_info: { exchange: 'celeryev', routing_key: 'worker.online' }, priority: 0, body_encoding: 'base64', delivery_tag: 'e1' },
    });
    await scope.redis.publish(scope.key('/0.celeryev/worker.online'), python);
    await eventually(() => workers.length === 2, 5000, 'the Python-published event');
    assert.equal(workers[1]!.message.body, '{"hostname": "w1@vm"}');
    assert.equal(workers[1]!.routingKey, 'worker.online');

    await monitor.close();
    await gossip.close();
    await monitor.close();
    assert.deepEqual(await scope.redis.smembers(scope.key('_kombu.binding.celeryev')), []);
    assert.equal(await broker.publishFanout('celeryev', 'task.multi', taskMessage('t2')), 0);
  });

  it('uses the bare exchange channel when there is no routing key (a worker mailbox)', async () => {
    const broker = scope.broker();
    const got: FanoutMessage[] = [];
    const sub = await broker.subscribeFanout({ exchange: 'celery.pidbox', queue: 'w1@vm.celery.pidbox' }, (m) => got.push(m));
    assert.equal(await scope.redis.publish(scope.key('/0.celery.pidbox'), JSON.stringify({ body: 'e30=', headers: {}, properties: { body_encoding: 'base64', delivery_tag: 'x' } })), 1);
    await eventually(() => got.length === 1, 5000, 'the broadcast');
    assert.deepEqual([got[0]!.exchange, got[0]!.routingKey, got[0]!.message.body], ['celery.pidbox', '', '{}']);
    await sub.close();
  });
});
