/**
 * Signatures as values: partial application, immutability, copies, call options under Celery's
 * names, links, reading one from data (with clear errors), and the JSON round trip.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clone,
  ConfigError,
  GroupResult,
  immutable,
  link,
  linkError,
  MemoryBackend,
  partial,
  ResultTimeoutError,
  signature,
  toSignature,
  withOptions,
  AsyncResult,
} from '../src/index.js';

describe('signatures', () => {
  it('are Celery\'s plain data', () => {
    const sig = signature('proj.add', { args: [2], kwargs: { z: 1 } });
    assert.deepEqual(sig, { task: 'proj.add', args: [2], kwargs: { z: 1 }, options: {}, subtask_type: null, immutable: false });
    assert.deepEqual(Object.keys(sig), ['task', 'args', 'kwargs', 'options', 'subtask_type', 'immutable']);
    assert.deepEqual(toSignature(JSON.parse(JSON.stringify(sig))), sig);
  });

  it('partial() prepends arguments and merges kwargs, except on an immutable signature', () => {
    const sig = signature('proj.add', { args: [2], kwargs: { a: 1 } });
    assert.deepEqual(partial(sig, [3], { b: 2 }).args, [3, 2]);
    assert.deepEqual(partial(sig, [3], { b: 2 }).kwargs, { a: 1, b: 2 });
    const fixed = immutable(sig);
    assert.equal(fixed.immutable, true);
    assert.deepEqual(partial(fixed, [3]).args, [2]);
    assert.deepEqual(sig.args, [2], 'the original is unchanged');
  });

  it('withOptions() stores call options under Celery\'s names and checks them', () => {
    const eta = new Date('2030-01-02T03:04:05.678Z');
    const sig = withOptions(signature('proj.add'), { taskId: 'x1', queue: 'q', countdown: 5, softTimeLimit: 3, ignoreResult: true });
    assert.deepEqual(sig.options, { task_id: 'x1', queue: 'q', countdown: 5, soft_time_limit: 3, ignore_result: true });
    assert.equal(withOptions(signature('t'), { eta }).options['eta'], '2030-01-02T03:04:05.678000+00:00');
    assert.throws(() => withOptions(signature('t'), { priority: 12 }), ConfigError);
    assert.throws(() => withOptions(signature('t'), { routingKey: 'x' } as never), /"routingKey" is not a call option/);
  });

  it('link() and linkError() append, once per signature, on a copy', () => {
    const sig = signature('a');
    const cb = signature('b');
    const linked = link(link(sig, cb), cb);
    assert.deepEqual(linked.options['link'], [cb]);
    assert.deepEqual(linkError(sig, signature('c')).options['link_error'], [signature('c')]);
    assert.deepEqual(sig.options, {});
  });

  it('clone() is deep', () => {
    const sig = link(signature('a', { args: [[1]] }), signature('b'));
    const copy = clone(sig);
    (copy.args[0] as number[]).push(2);
    assert.deepEqual(sig.args, [[1]]);
  });

  it('toSignature() fills Celery\'s minimal form and says what is wrong', () => {
    assert.deepEqual(toSignature({ task: 'x' }), signature('x'));
    assert.throws(() => toSignature({ args: [] }), /has no task name/);
    assert.throws(() => toSignature({ task: 'x', args: 3 }), /"args" must be an array/);
    assert.throws(() => toSignature({ task: 'x', subtask_type: 'weird' }), /unknown subtask_type "weird"/);
    assert.throws(() => toSignature({ task: 'celery.group', subtask_type: 'group', kwargs: {} }), /kwargs.tasks must be a list/);
  });
});

describe('GroupResult', () => {
  it('join({ timeout }) bounds the whole wait', async () => {
    const backend = new MemoryBackend();
    const res = new GroupResult('g1', [new AsyncResult('never-1', () => backend), new AsyncResult('never-2', () => backend)], () => backend);
    await assert.rejects(res.join({ timeout: 100 }), ResultTimeoutError);
    assert.equal(await res.completedCount(), 0);
    assert.equal(await res.ready(), false);
  });

  it('asTuple() is Celery\'s, and a saved group is restored with its members', async () => {
    const backend = new MemoryBackend();
    const res = new GroupResult('g2', [new AsyncResult('t1', () => backend), new AsyncResult('t2', () => backend)], () => backend);
    assert.deepEqual(res.asTuple(), [['g2', null], [[['t1', null], null], [['t2', null], null]]]);
    await res.save();
    const back = await GroupResult.restore(backend, 'g2');
    assert.deepEqual(back?.results.map((r) => r.id), ['t1', 't2']);
    await res.delete();
    assert.equal(await GroupResult.restore(backend, 'g2'), null);
  });
});
