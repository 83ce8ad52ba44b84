/**
 * How many round trips the hot path costs, seen from Redis itself (MONITOR, filtered on the test's
 * own key prefix): acks ride on the take that follows them instead of a script call of their own,
 * an idle consumer's take is pipelined behind its wait (and its acks in front of it), and
 * cancelling ends a long wait at once without leaving what its take got in `unacked`.
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

  it('takes behind the wait on the blocking connection, with the pending acks in front of it', async () => {
    const broker = scope.broker({ blockTimeoutMs: 5000 });
    const acks: Promise<void>[] = [];
    const delivered: Delivery[] = [];
    // Acked as it arrives, as a worker's early ack is: pending when the consumer waits again.
    const consumer = await broker.consume(['q'], (d: Delivery) => {
      delivered.push(d);
      acks.push(d.ack());
    }, { prefetch: 4 });
    const blmoves = () => commands.seen.filter((s) => s.args[0]?.toLowerCase() === 'blmove');
    await eventually(async () => blmoves().length >= 1, waits.timeoutMs, 'the consumer to wait');
    const waiter = blmoves()[0]!.source;

    await broker.publish(taskMessage('one'), { queue: 'q' });
    await eventually(async () => delivered.length === 1, waits.timeoutMs, 'the first delivery');
    // The take that got it ran on the waiting connection, right behind the wait: no second trip.
    const takes = () => commands.seen.filter((s) => isScript(s, TAKE.sha));
    await eventually(async () => takes().some((s) => s.source === waiter), waits.timeoutMs, 'a take on the waiting connection');

    // Its ack went ahead of the next wait, on the same connection, and was applied at once.
    await within(acks[0]!, waits.timeoutMs, 'the ack to be applied');
    assert.equal(await scope.redis.hexists(scope.key('unacked'), delivered[0]!.deliveryTag), 0);
    await broker.publish(taskMessage('two'), { queue: 'q' });
    await eventually(async () => delivered.length === 2, waits.timeoutMs, 'the second delivery');
    await within(Promise.all(acks), waits.timeoutMs, 'the acks to be applied');
    await consumer.cancel();
    await quiet();
    const ackCalls = commands.seen.filter((s) => isScript(s, ACK.sha));
    assert.ok(ackCalls.length >= 1);
    assert.ok(ackCalls.every((s) => s.source === waiter), 'an ack was sent on the command connection');
    assert.equal(takes().filter((s) => s.source !== waiter).length, 1);
  });

  it('cancel() ends a long wait at once and gives back what the take behind it got', async () => {
    const broker = scope.broker({ blockTimeoutMs: 10_000 });
    const inbox = new Inbox();
    const consumer = await broker.consume(['q'], inbox.onDelivery, { prefetch: 4 });
    await eventually(async () => commands.seen.some((s) => s.args[0]?.toLowerCase() === 'blmove'), waits.timeoutMs, 'the consumer to wait');
    // A message arriving as the consumer is cancelled: delivered, or back on the queue, never
    // left in unacked.
    await broker.publish(taskMessage('racing'), { queue: 'q' });
    const started = Date.now();
    await consumer.cancel();
    assert.ok(Date.now() - started < 2000, `cancel() took ${Date.now() - started} ms`);
    for (const d of inbox.received) await inbox.ack(d);
    const queued = await scope.redis.llen(scope.key('q'));
    assert.equal(queued + inbox.received.length, 1);
    if (inbox.received.length === 0) assert.equal(await scope.redis.hlen(scope.key('unacked')), 0, 'the message was left in unacked');
  });
});
