/**
 * The result backend conformance cases for what the canvas needs: chord counting
 * ({@link ResultBackend.chords}) and saved groups ({@link ResultBackend.groups}). Both are optional
 * parts of a backend: a case whose part the backend lacks is skipped at run time, with that reason.
 *
 * Every case uses fresh group ids. The concurrency case spreads its parts over several instances
 * when the backend is shared (`capabilities.shared`), as workers in several processes would.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { ConfigError, type ChordPartInput, type ChordPartOutcome, type ChordStore, type GroupStore, type ResultBackend, type ResultTuple } from '@celeriac/core';
import { eventually, sleep, type Waits } from './conformance-helpers.js';

export const CANVAS_CASE_NAMES = [
  'chord: size then parts complete it once, in group-index order',
  'chord: parts may come before the size',
  'chord: adjustSize changes the expected count',
  'chord: a part without a group index sorts last',
  'chord: a repeated part is counted once',
  'chord: concurrent parts complete it exactly once',
  'chord: completion removes the bookkeeping',
  'chord: expiresIn is honoured',
  'group: save, restore and delete',
  'group: restoring a missing group gives null',
  'group: expiresIn is honoured',
] as const;
export type CanvasCaseName = (typeof CANVAS_CASE_NAMES)[number];

type Open = () => Promise<ResultBackend>;
type CanvasCase = (open: Open, waits: Waits, t: TestContext) => Promise<void>;

const NOT_COMPLETE = { complete: false, parts: [], results: [] } as const;

/**
 * The backend's optional `chords` / `groups`, or undefined after marking the test skipped: when
 * the backend has none, or refuses them with a ConfigError from the getter (the rpc backend's
 * `chords` throws Celery's "does not support chords" message, which is then shown as the reason).
 */
function optionalPart<K extends 'chords' | 'groups'>(backend: ResultBackend, key: K, t: TestContext): ResultBackend[K] | undefined {
  const what = key === 'chords' ? 'chord counting' : 'saved groups';
  let value: ResultBackend[K];
  try {
    value = backend[key];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    t.skip(`the backend refuses ${what} (ResultBackend.${key}): ${err.message.split('\n')[0]}`);
    return undefined;
  }
  if (!value) t.skip(`the backend has no ${what} (ResultBackend.${key})`);
  return value;
}

async function chordsOf(open: Open, t: TestContext): Promise<ChordStore | undefined> {
  return optionalPart(await open(), 'chords', t);
}

async function groupsOf(open: Open, t: TestContext): Promise<GroupStore | undefined> {
  return optionalPart(await open(), 'groups', t);
}

/** A part of chord `groupId` whose result is its own task id. */
function part(groupId: string, taskId: string, groupIndex?: number | null): ChordPartInput {
  return { groupId, taskId, groupIndex, state: 'SUCCESS', result: taskId };
}

function tuple(groupId: string): ResultTuple {
  return [[groupId, null], [[[randomUUID(), null], null], [[randomUUID(), [[randomUUID(), null], null]], null]]];
}

export const canvasCases: Record<CanvasCaseName, CanvasCase> = {
  async 'chord: size then parts complete it once, in group-index order'(open, _waits, t) {
    const chords = await chordsOf(open, t);
    if (!chords) return;
    const gid = randomUUID();
    await chords.setSize(gid, 3);
    const failure = { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' };
    const first = await chords.addPart({ groupId: gid, taskId: 't2', groupIndex: 2, state: 'SUCCESS', result: { nested: ['naïve ✓', null] } });
    assert.deepEqual(first, { ...NOT_COMPLETE, count: 1, total: 3 });
    const second = await chords.addPart({ groupId: gid, taskId: 't0', groupIndex: 0, state: 'FAILURE', result: failure });
    assert.deepEqual(second, { ...NOT_COMPLETE, count: 2, total: 3 });
    const last = await chords.addPart({ groupId: gid, taskId: 't1', groupIndex: 1, state: 'SUCCESS', result: 1 });
    assert.deepEqual(last, {
      complete: true,
      count: 3,
      total: 3,
      parts: [
        { taskId: 't0', state: 'FAILURE', result: failure },
        { taskId: 't1', state: 'SUCCESS', result: 1 },
        { taskId: 't2', state: 'SUCCESS', result: { nested: ['naïve ✓', null] } },
      ],
      results: [failure, 1, { nested: ['naïve ✓', null] }],
    });
  },
  async 'chord: parts may come before the size'(open, _waits, t) {
    const chords = await chordsOf(open, t);
    if (!chords) return;
    const gid = randomUUID();
    assert.deepEqual(await chords.addPart(part(gid, 'b', 1)), { ...NOT_COMPLETE, count: 1, total: null });
    await chords.setSize(gid, 3);
    assert.deepEqual(await chords.addPart(part(gid, 'c', 2)), { ...NOT_COMPLETE, count: 2, total: 3 });
    const last = await chords.addPart(part(gid, 'a', 0));
    assert.equal(last.complete, true);
    assert.deepEqual(last.results, ['a', 'b', 'c']);
  },
  async 'chord: adjustSize changes the expected count'(open, _waits, t) {
    const chords = await chordsOf(open, t);
    if (!chords) return;
    const gid = randomUUID();
    await chords.setSize(gid, 2);
    await chords.adjustSize(gid); // by 1
    await chords.adjustSize(gid, 2);
    await chords.adjustSize(gid, -1);
    for (let i = 0; i < 3; i++) assert.deepEqual(await chords.addPart(part(gid, `p${i}`, i)), { ...NOT_COMPLETE, count: i + 1, total: 4 });
    const last = await chords.addPart(part(gid, 'p3', 3));
    assert.equal(last.complete, true, 'the fourth part completes a chord of size 2 adjusted by +1 +2 -1');
    assert.deepEqual(last.results, ['p0', 'p1', 'p2', 'p3']);
    await assert.rejects(chords.adjustSize(gid, 1.5), ConfigError);
  },
  async 'chord: a part without a group index sorts last'(open, _waits, t) {
    const chords = await chordsOf(open, t);
    if (!chords) return;
    const gid = randomUUID();
    await chords.setSize(gid, 3);
    await chords.addPart(part(gid, 'no-index')); // groupIndex left out
    await chords.addPart(part(gid, 'b', 1));
    const last = await chords.addPart(part(gid, 'a', 0));
    assert.equal(last.complete, true);
    assert.deepEqual(last.parts.map((p) => p.taskId), ['a', 'b', 'no-index']);
  },
  async 'chord: a repeated part is counted once'(open, _waits, t) {
    const chords = await chordsOf(open, t);
    if (!chords) return;
    const gid = randomUUID();
    await chords.setSize(gid, 2);
    await chords.addPart(part(gid, 'b', 1));
    const repeated = await chords.addPart(part(gid, 'b', 1));
    assert.deepEqual(repeated, { ...NOT_COMPLETE, count: 1, total: 2 }, 'a redelivered part was counted twice');
    // Run again after a redelivery, a task may well return something else: still the same part.
    const rerun = await chords.addPart({ ...part(gid, 'b', 1), result: 'b, second run' });
    assert.deepEqual(rerun, { ...NOT_COMPLETE, count: 1, total: 2 }, 'a part run twice with another result was counted twice');
    const last = await chords.addPart(part(gid, 'a', 0));
    assert.deepEqual(last.results, ['a', 'b']);
  },
  async 'chord: concurrent parts complete it exactly once'(open, _waits, t) {
    const first = await open();
    const chords = optionalPart(first, 'chords', t);
    if (!chords) return;
    // Spread over several instances (connections, as in several worker processes) when they share a store.
    const stores = [chords];
    if (first.capabilities.shared) for (let i = 0; i < 3; i++) stores.push((await open()).chords!);
    const size = 24;
    const gid = randomUUID();
    await chords.setSize(gid, size, { expiresIn: 600 });
    const order = Array.from({ length: size }, (_, i) => (i * 7) % size); // a scrambled order
    const outcomes: ChordPartOutcome[] = await Promise.all(
      order.map((index, n) => stores[n % stores.length]!.addPart({ ...part(gid, `task-${index}`, index), result: { index } }, { expiresIn: 600 })),
    );
    const complete = outcomes.filter((o) => o.complete);
    assert.equal(complete.length, 1, `${complete.length} parts completed the chord`);
    assert.deepEqual(complete[0]!.results, Array.from({ length: size }, (_, index) => ({ index })));
    assert.deepEqual(outcomes.map((o) => o.count).sort((a, b) => a - b), Array.from({ length: size }, (_, i) => i + 1), 'each part saw its own count');
  },
  async 'chord: completion removes the bookkeeping'(open, _waits, t) {
    const chords = await chordsOf(open, t);
    if (!chords) return;
    const gid = randomUUID();
    await chords.setSize(gid, 2);
    await chords.adjustSize(gid);
    await chords.addPart(part(gid, 'a', 0));
    await chords.addPart(part(gid, 'b', 1));
    assert.equal((await chords.addPart(part(gid, 'c', 2))).complete, true);
    // The same group id again: no size, no adjustment, no parts are left from the first round.
    assert.deepEqual(await chords.addPart(part(gid, 'd', 1)), { ...NOT_COMPLETE, count: 1, total: null });
    await chords.setSize(gid, 2);
    const again = await chords.addPart(part(gid, 'a', 0));
    assert.equal(again.complete, true);
    assert.deepEqual(again.results, ['a', 'd']);
  },
  async 'chord: expiresIn is honoured'(open, _waits, t) {
    const chords = await chordsOf(open, t);
    if (!chords) return;
    const [short, forever] = [randomUUID(), randomUUID()];
    await chords.setSize(short, 2, { expiresIn: 1 });
    await chords.addPart(part(short, 'a', 0), { expiresIn: 1 });
    await chords.setSize(forever, 2);
    await chords.addPart(part(forever, 'a', 0));
    await sleep(1500);
    // The expired chord's size and part are gone; the other one is whole.
    assert.deepEqual(await chords.addPart(part(short, 'b', 1)), { ...NOT_COMPLETE, count: 1, total: null });
    assert.deepEqual((await chords.addPart(part(forever, 'b', 1))).results, ['a', 'b']);
    await assert.rejects(chords.setSize(randomUUID(), 1, { expiresIn: -1 }), ConfigError);
  },
  async 'group: save, restore and delete'(open, _waits, t) {
    const groups = await groupsOf(open, t);
    if (!groups) return;
    const gid = randomUUID();
    const saved = tuple(gid);
    await groups.saveGroup(gid, saved);
    assert.deepEqual(await groups.restoreGroup(gid), saved);
    // Saving again replaces, as in Celery.
    const smaller: ResultTuple = [[gid, null], []];
    await groups.saveGroup(gid, smaller);
    assert.deepEqual(await groups.restoreGroup(gid), smaller);
    await groups.deleteGroup(gid);
    assert.equal(await groups.restoreGroup(gid), null);
    await groups.deleteGroup(gid); // deleting what is not there is fine
    await assert.rejects(groups.saveGroup(gid, [[gid]] as unknown as ResultTuple), ConfigError);
  },
  async 'group: restoring a missing group gives null'(open, _waits, t) {
    const groups = await groupsOf(open, t);
    if (!groups) return;
    assert.equal(await groups.restoreGroup(randomUUID()), null);
  },
  async 'group: expiresIn is honoured'(open, waits, t) {
    const groups = await groupsOf(open, t);
    if (!groups) return;
    const [short, forever] = [randomUUID(), randomUUID()];
    await groups.saveGroup(short, tuple(short), { expiresIn: 1 });
    await groups.saveGroup(forever, tuple(forever), { expiresIn: null });
    assert.notEqual(await groups.restoreGroup(short), null, 'a group expired at once');
    await eventually(async () => (await groups.restoreGroup(short)) === null, waits.timeoutMs + 1000, 'the group to expire');
    assert.notEqual(await groups.restoreGroup(forever), null);
  },
};
