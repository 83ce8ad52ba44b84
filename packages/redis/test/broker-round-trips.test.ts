/**
 * How many round trips the hot path costs, seen from Redis itself (MONITOR, filtered on the test's
 * own key prefix): acks ride on the take that follows them instead of a script call of their own,
 * an idle consumer's wait lands a message with no script run (and its early ack rides the next
 * wait), and cancelling ends a long wait at once without leaving what it got in `unacked` or in
 * its landing list.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Delivery } from '@celeriac/core';
import { Inbox, eventually, within } from '@celeriac/testing';
import { ACK, TAKE } from '../src/broker-scripts.js';
import { PrefixScope, redisSkipReason, taskMessage } from './broker-fixture.js';
import { quiet, watchCommands, type Seen } from './monitor-fixture.js';

const waits = { timeoutMs: 5000, quietMs: 300 };
const skip = await redisSkipReason();

const isScript = (s: Seen, sha: string) => s.args[0]?.toLowerCase() === 'evalsha' && s.args[1] === sha;

describe('redis broker: round trips on the hot path', { skip }, () => {
  let scope: PrefixScope;
  let commands: Awaited<ReturnType<typeof watchCommands>>;
  beforeEach(async () => {
    scope = new PrefixScope('round-trips');
    commands = await watchCommands(scope.prefix);
  });
  afterEach(async () => {
    commands.stop();
    await scope.cleanup();
  });

  it('sends each ack with the take it frees credit for, not in a script call of its own', async () => {
    const broker = scope.broker({ blockTimeoutMs: 100 });
    await broker.publishMany(['a', 'b', 'c', 'd', 'e'].map((tag) => ({ message: taskMessage(tag), options: { queue: 'q' } })));
    const acks: Promise<void>[] = [];
    // Acked as it arrives: the consumer, short of credit (prefetch 1), takes again at once.
    const consumer = await broker.consume(['q'], (d: Delivery) => acks.push(d.ack()), { prefetch: 1 });
    await eventually(async () => acks.length === 5, waits.timeoutMs, 'five deliveries');
    await within(Promise.all(acks), waits.timeoutMs, 'the acks to be applied');
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    assert.equal(await scope.redis.zcard(scope.key('unacked_index')), 0);
    await consumer.cancel();
    await quiet();
    assert.deepEqual(commands.seen.filter((s) => isScript(s, ACK.sha)), [], 'an ack went in a script call of its own');
    // The takes after the first each carried the ack of the message before.
    const takes = commands.seen.filter((s) => isScript(s, TAKE.sha));
    // evalsha sha numkeys, 9 keys (5 + one queue's 4 lists), limit, n, id prefix, ack count.
    const carried = takes.map((s) => Number(s.args[3 + 9 + 3]));
    assert.deepEqual(carried.slice(0, 5), [0, 1, 1, 1, 1]);
  });

  it('an idle consumer\'s wait lands the message, and its early ack rides the next wait as an LREM: no script on the way', async () => {
    const broker = scope.broker({ blockTimeoutMs: 5000 });
    const acks: Promise<void>[] = [];
    const delivered: Delivery[] = [];
    // Acked as it arrives, as a worker's early ack is: pending when the consumer waits again.
    const consumer = await broker.consume(['q'], (d: Delivery) => {
      delivered.push(d);
      acks.push(d.ack());
    }, { prefetch: 4 });
    const named = (name: string) => (s: Seen) => s.args[0]?.toLowerCase() === name;
    await eventually(async () => commands.seen.some(named('blmove')), waits.timeoutMs, 'the consumer to wait');
    const wait = commands.seen.find(named('blmove'))!;
    const waiter = wait.source;
    // It waits on the queue, to land in a list of its own, named in celeriac.landings, with its
    // alive key set right before (same connection).
    const landing = wait.args[2]!;
    assert.equal(wait.args[1], scope.key('q'));
    assert.ok(landing.startsWith(scope.key('celeriac.landing.')), landing);
    const member = landing.slice(scope.key('celeriac.landing.').length);
    assert.deepEqual(await scope.redis.smembers(scope.key('celeriac.landings')), [member]);
    assert.equal(await scope.redis.exists(scope.key(`celeriac.alive.${member.split(':')[0]}`)), 1);
    const scriptsBefore = commands.seen.filter(named('evalsha')).length;

    for (const [i, tag] of ['one', 'two', 'three'].entries()) {
      await broker.publish(taskMessage(tag), { queue: 'q' });
      await eventually(async () => delivered.length === i + 1, waits.timeoutMs, `delivery ${i + 1}`);
    }
    await within(Promise.all(acks), waits.timeoutMs, 'the acks to be applied');
    // Acknowledged out of the landing list: never in unacked, nothing left behind.
    assert.equal(await scope.redis.llen(landing), 0);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    const lrems = commands.seen.filter(named('lrem'));
    assert.equal(lrems.length, 3);
    assert.ok(lrems.every((s) => s.source === waiter && s.args[1] === landing), 'an ack went elsewhere than ahead of a wait');
    assert.equal(commands.seen.filter(named('evalsha')).length, scriptsBefore, 'a script ran on the way of an idle worker\'s task');

    await consumer.cancel();
    await quiet();
    // Gone with the consumer: its member and its alive key.
    assert.equal(await scope.redis.scard(scope.key('celeriac.landings')), 0);
    assert.equal(await scope.redis.exists(scope.key(`celeriac.alive.${member.split(':')[0]}`)), 0);
  });

  it('cancel() ends a long wait at once and gives back what the take behind it got', async () => {
    const broker = scope.broker({ blockTimeoutMs: 10_000 });
    const inbox = new Inbox();
    const consumer = await broker.consume(['q'], inbox.onDelivery, { prefetch: 4 });
    await eventually(async () => commands.seen.some((s) => s.args[0]?.toLowerCase() === 'blmove'), waits.timeoutMs, 'the consumer to wait');
    // A message arriving as the consumer is cancelled: delivered, or back on the queue, never
    // left in unacked or in a landing list.
    await broker.publish(taskMessage('racing'), { queue: 'q' });
    const started = Date.now();
    await consumer.cancel();
    assert.ok(Date.now() - started < 2000, `cancel() took ${Date.now() - started} ms`);
    for (const d of inbox.received) await inbox.ack(d);
    const queued = await scope.redis.llen(scope.key('q'));
    assert.equal(queued + inbox.received.length, 1);
    if (inbox.received.length === 0) assert.equal(await scope.redis.hlen(scope.key('unacked')), 0, 'the message was left in unacked');
    const landings = await scope.redis.keys(`${scope.key('celeriac.landing.')}*`);
    for (const list of landings) assert.equal(await scope.redis.llen(list), 0, 'the message was left in a landing list');
  });
});
