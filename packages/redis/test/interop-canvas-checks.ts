/**
 * Workflows across languages, checked the same way on every transport (interop-canvas.test.ts in
 * packages/redis/test and packages/amqp/test): a Python Celery 5.2 worker consumes one queue (`py`,
 * tasks `interop.py.*`), a celeriac worker another (`ts`, tasks `interop.ts.*` and `interop.fail`),
 * and neither knows the other's tasks, so a right result means each step ran on its own side and
 * the workflow was handed across: chain steps, chord parts counted in the backend's chord keys,
 * the chord body or its ChordError.
 *
 * The Python client's workflows are built in fixtures/py_canvas_commands.py; the celeriac
 * client's here, with `@celeriac/core`'s canvas functions.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AsyncResult, chain, chord, group, GroupResult, RemoteTaskError, signature, type App, type Signature } from '@celeriac/core';

/** The task names each worker registers for these checks (besides `interop.fail` on celeriac). */
export function registerCanvasTasks(app: App): void {
  app.task({ name: 'interop.ts.add', params: ['x', 'y'] }, (_ctx, x: number, y: number) => x + y);
  app.task({ name: 'interop.ts.mul', params: ['x', 'y'] }, (_ctx, x: number, y: number) => x * y);
  app.task({ name: 'interop.ts.xsum', params: ['values'] }, (_ctx, values: number[]) => values.reduce((s, v) => s + v, 0));
}

/** The keys Celery 5.2's Redis backend keeps for a group: the saved group, and a chord's counters. */
export function groupKeys(groupId: string): string[] {
  const base = `celery-taskset-meta-${groupId}`;
  return [base, `${base}.j`, `${base}.t`, `${base}.s`];
}

/** A result as py_canvas_commands.py reports it. */
export interface PyCanvasOutcome {
  readonly id: string;
  readonly state: string;
  readonly value?: unknown;
  readonly exception?: { type: string; module: string; args: unknown[]; str: string };
}

/** The line a `canvas-*` or `read` command prints. */
export interface PyCanvasLine {
  readonly result?: PyCanvasOutcome;
  readonly parents?: PyCanvasOutcome[];
  readonly header?: PyCanvasOutcome[];
  readonly outcomes?: PyCanvasOutcome[];
  /** The ids Celery chose for a workflow the test gave none (their keys are deleted at cleanup). */
  readonly made?: { tasks: string[]; groups: string[] };
}

/** What the checks need from a test's scope. */
export interface CanvasRun {
  /** A celeriac client, on the workers' broker and result backend. */
  readonly app: App;
  /** py: the Python worker's queue; ts: the celeriac worker's. */
  readonly queues: { readonly py: string; readonly ts: string };
  /** Runs a py_canvas_commands.py command with these ids (the queues are added); its line. */
  python(command: string, ids: Record<string, unknown>): Promise<PyCanvasLine>;
  /** A task id (fresh, or one given) whose result is deleted at cleanup. */
  taskId(id?: string): string;
  /** A group id (fresh, or one given) whose group and chord keys are deleted at cleanup. */
  groupId(id?: string): string;
  /** The workers' logs, for failure messages. */
  logs(): string;
}

const WAIT = { timeout: 60_000 };

const on = (name: string, queue: string, args: unknown[] = [], immutable = false): Signature => signature(name, { args, options: { queue }, immutable });

/** Hands every task and group id of an applied workflow to the scope (their keys are deleted at cleanup). */
export function track(run: CanvasRun, result: AsyncResult | GroupResult): void {
  if (result instanceof GroupResult) {
    run.groupId(result.id);
    for (const member of result.results) track(run, member);
  } else {
    run.taskId(result.id);
  }
  if (result.parent) track(run, result.parent);
}

/** Python: chain(py.add(2, 2), ts.mul(4), py.add(1)) is 17, with 16 and 4 before it. */
export async function pythonChain(run: CanvasRun): Promise<void> {
  const steps = [run.taskId(), run.taskId(), run.taskId()];
  const line = await run.python('canvas-chain', { steps });
  assert.deepEqual(line.result, { id: steps[2], state: 'SUCCESS', value: 17 }, run.logs());
  assert.deepEqual(line.parents, [
    { id: steps[1], state: 'SUCCESS', value: 16 },
    { id: steps[0], state: 'SUCCESS', value: 4 },
  ]);
}

/** Python: chord([ts.mul(i, i) for i in 0..4], py.xsum()) is 30; the celeriac worker completed it. */
export async function pythonChord(run: CanvasRun): Promise<void> {
  const ids = { group: run.groupId(), header: [0, 1, 2, 3, 4].map(() => run.taskId()), body: run.taskId() };
  const line = await run.python('canvas-chord', ids);
  assert.deepEqual(line.result, { id: ids.body, state: 'SUCCESS', value: 30 }, run.logs());
  assert.deepEqual(line.header?.map((h) => [h.id, h.value]), ids.header.map((id, i) => [id, i * i]));
  // celeriac reads the same results.
  assert.equal(await run.app.asyncResult(ids.body).get(WAIT), 30);
}

/** Runs a Python command whose ids Celery chose, and hands them to the scope. */
async function pythonMade(run: CanvasRun, command: string): Promise<PyCanvasLine> {
  const line = await run.python(command, {});
  for (const id of line.made?.tasks ?? []) run.taskId(id);
  for (const id of line.made?.groups ?? []) run.groupId(id);
  return line;
}

const valueError = (message: string) => ({ type: 'ValueError', module: 'builtins', args: [message], str: message });

/**
 * Python: chain(py.add(2, 2), celeriac fail (immutable), py.add(1)): the celeriac worker marks the rest of the
 * chain failed with the same error (as Celery 5.2 does), so Python's wait on the last step ends.
 */
export async function pythonChainFails(run: CanvasRun): Promise<void> {
  const steps = [run.taskId(), run.taskId(), run.taskId()];
  const line = await run.python('canvas-chain-fail', { steps });
  assert.deepEqual(line.result, { id: steps[2], state: 'FAILURE', exception: valueError('boom') }, run.logs());
  assert.deepEqual(line.parents, [
    { id: steps[1], state: 'FAILURE', exception: valueError('boom') },
    { id: steps[0], state: 'SUCCESS', value: 4 },
  ]);
}

/**
 * Python: chain(py.add(1, 1), group(ts.mul(2), ts.mul(3)), py.xsum(), ts.add(5)) is 15: Celery
 * turns group-then-task into a chord whose body is chain(py.xsum, ts.add); the celeriac worker
 * applies that chord (frozen by Python) as the chain's next step.
 */
export async function pythonNested(run: CanvasRun): Promise<void> {
  const line = await pythonMade(run, 'canvas-nested');
  assert.equal(line.result?.state, 'SUCCESS', `${JSON.stringify(line.result)}\n${run.logs()}`);
  assert.equal(line.result?.value, 15);
}

/** Python: chord([chain(ts.mul(i, i), py.add(1)) for i in 0..2], ts.xsum()) is 8: each chain's last (Python) step counts. */
export async function pythonHeaderChains(run: CanvasRun): Promise<void> {
  const line = await pythonMade(run, 'canvas-header-chains');
  assert.deepEqual(line.header?.map((h) => h.value), [1, 2, 5], `${JSON.stringify(line)}\n${run.logs()}`);
  assert.equal(line.result?.value, 8);
}

/** celeriac: chain(ts.add(2, 2), py.fail (immutable), ts.add(1)): the Python worker marks the rest failed; celeriac's wait on the last step ends. */
export async function celeriacChainFails(run: CanvasRun): Promise<void> {
  const { py, ts } = run.queues;
  const res = await run.app.apply(chain(on('interop.ts.add', ts, [2, 2]), on('interop.py.fail', py, ['no 7 here'], true), on('interop.ts.add', ts, [1])));
  track(run, res);
  for (const r of [res, res.parent as AsyncResult]) {
    await assert.rejects(r.get(WAIT), (err: unknown) => {
      assert.ok(err instanceof RemoteTaskError, `got ${String(err)}`);
      assert.equal(err.name, 'ValueError');
      assert.equal(err.message, 'no 7 here');
      return true;
    });
  }
  assert.equal(await (res.parent!.parent as AsyncResult).get(WAIT), 4);
}

/** celeriac: chain(ts.add(1, 1), group(py.mul(2), py.mul(3)), ts.xsum(), py.add(5)) is 15 (a chord inside, its body a chain). */
export async function celeriacNested(run: CanvasRun): Promise<void> {
  const { py, ts } = run.queues;
  const res = await run.app.apply(chain(on('interop.ts.add', ts, [1, 1]), group(on('interop.py.mul', py, [2]), on('interop.py.mul', py, [3])), on('interop.ts.xsum', ts), on('interop.py.add', py, [5])));
  track(run, res);
  assert.equal(await res.get(WAIT), 15, run.logs());
}

/** celeriac: chord([chain(py.mul(i, i), ts.add(1)) for i in 0..2], py.xsum()) is 8: each chain's last (celeriac) step counts. */
export async function celeriacHeaderChains(run: CanvasRun): Promise<void> {
  const { py, ts } = run.queues;
  const header = [0, 1, 2].map((i) => chain(on('interop.py.mul', py, [i, i]), on('interop.ts.add', ts, [1])));
  const res = await run.app.apply(chord(header, on('interop.py.xsum', py)));
  track(run, res);
  assert.equal(await res.get(WAIT), 8, run.logs());
  assert.deepEqual(await (res.parent as GroupResult).join(WAIT), [1, 2, 5]);
}

/** celeriac: chain(ts.add(2, 2), py.mul(4), ts.add(1)) is 17, with 16 and 4 before it. */
export async function celeriacChain(run: CanvasRun): Promise<void> {
  const { py, ts } = run.queues;
  const res = await run.app.apply(chain(on('interop.ts.add', ts, [2, 2]), on('interop.py.mul', py, [4]), on('interop.ts.add', ts, [1])));
  track(run, res);
  assert.ok(res instanceof AsyncResult);
  assert.equal(await res.get(WAIT), 17, run.logs());
  const second = res.parent as AsyncResult;
  const first = second.parent as AsyncResult;
  assert.equal(await second.get(WAIT), 16);
  assert.equal(await first.get(WAIT), 4);
}

/** celeriac: a group of six Python tasks joins in member order. */
export async function celeriacGroup(run: CanvasRun): Promise<void> {
  const members = [5, 4, 3, 2, 1, 0].map((i) => on('interop.py.mul', run.queues.py, [i, i]));
  const res = await run.app.apply(group(members));
  track(run, res);
  assert.ok(res instanceof GroupResult);
  assert.deepEqual(await res.join(WAIT), [25, 16, 9, 4, 1, 0], run.logs());
  assert.equal(await res.completedCount(), 6);
  assert.equal(await res.successful(), true);
}

/**
 * celeriac: chord([py.mul(i, i) for i in 0..4], ts.xsum()) is 30 (the Python worker completed it
 * and sent the body to the celeriac worker); a header that mixes both sides is 30 too, whichever
 * worker adds the last part.
 */
export async function celeriacChord(run: CanvasRun): Promise<void> {
  const { py, ts } = run.queues;
  const res = await run.app.apply(chord([0, 1, 2, 3, 4].map((i) => on('interop.py.mul', py, [i, i])), on('interop.ts.xsum', ts)));
  track(run, res);
  assert.equal(await res.get(WAIT), 30, run.logs());
  assert.ok(res.parent instanceof GroupResult);
  assert.deepEqual(await res.parent.join(WAIT), [0, 1, 4, 9, 16]);

  const mixed = [0, 1, 2, 3, 4].map((i) => (i % 2 ? on('interop.py.mul', py, [i, i]) : on('interop.ts.mul', ts, [i, i])));
  const both = await run.app.apply(chord(mixed, on('interop.py.xsum', py)));
  track(run, both);
  assert.equal(await both.get(WAIT), 30, run.logs());
  assert.deepEqual(await (both.parent as GroupResult).join(WAIT), [0, 1, 4, 9, 16]);
}

/** The body's ChordError as celeriac reads it. */
async function celeriacSeesChordError(app: App, bodyId: string, message: string): Promise<void> {
  await assert.rejects(app.asyncResult(bodyId).get(WAIT), (err: unknown) => {
    assert.ok(err instanceof RemoteTaskError, `got ${String(err)}`);
    assert.equal(err.name, 'ChordError');
    assert.equal(err.excModule, 'celery.exceptions');
    assert.equal(err.message, message);
    return true;
  });
  assert.equal(await app.asyncResult(bodyId).state(), 'FAILURE');
}

/**
 * Python: a celeriac header task fails (a RangeError: ValueError('boom')); the celeriac worker
 * fails the chord, Python's body never runs, and both clients read its ChordError.
 */
export async function pythonChordFails(run: CanvasRun): Promise<void> {
  const ids = { group: run.groupId(), header: [run.taskId(), run.taskId(), run.taskId()], body: run.taskId() };
  const line = await run.python('canvas-chord-fail', ids);
  const message = `Dependency ${ids.header[1]} raised ValueError('boom')`;
  assert.deepEqual(line.result, { id: ids.body, state: 'FAILURE', exception: { type: 'ChordError', module: 'celery.exceptions', args: [message], str: message } }, run.logs());
  assert.deepEqual(line.header?.map((h) => [h.state, h.value ?? h.exception?.str]), [['SUCCESS', 1], ['FAILURE', 'boom'], ['SUCCESS', 4]]);
  await celeriacSeesChordError(run.app, ids.body, message);
}

/**
 * celeriac: a Python header task fails (ValueError); the Python worker fails the chord, the
 * celeriac body never runs, and both clients read its ChordError.
 */
export async function celeriacChordFails(run: CanvasRun): Promise<void> {
  const { py, ts } = run.queues;
  const header = [on('interop.py.mul', py, [1, 1]), on('interop.py.fail', py, ['no 7 here']), on('interop.py.mul', py, [2, 2])];
  const res = await run.app.apply(chord(header, on('interop.ts.xsum', ts)));
  track(run, res);
  const failing = (res.parent as GroupResult).results[1]!;
  const message = `Dependency ${failing.id} raised ValueError('no 7 here')`;
  await celeriacSeesChordError(run.app, res.id, message);
  const line = await run.python('read', { read: [res.id] });
  assert.deepEqual(line.outcomes, [{ id: res.id, state: 'FAILURE', exception: { type: 'ChordError', module: 'celery.exceptions', args: [message], str: message } }]);
}

/**
 * Registers the checks as tests of the current describe(), in one order for every transport; with
 * `chords: false` (a backend that cannot count chords, such as rpc://) only chains and groups.
 */
export function itChecksWorkflows(run: () => CanvasRun, { chords }: { readonly chords: boolean }): void {
  const checks: [title: string, check: (run: CanvasRun) => Promise<void>, chord: boolean][] = [
    ['a Python client: chain(py.add, ts.mul, py.add) is 17', pythonChain, false],
    ['a Python client: chord([ts.mul x5], py.xsum) is 30', pythonChord, true],
    ['a celeriac client: chain(ts.add, py.mul, ts.add) is 17', celeriacChain, false],
    ['a celeriac client: a group of Python tasks joins in order', celeriacGroup, false],
    ['a celeriac client: chord([py.mul x5], ts.xsum) is 30, and with a mixed header', celeriacChord, true],
    ['a Python client: a failing celeriac header task fails the chord (ChordError, read by both)', pythonChordFails, true],
    ['a celeriac client: a failing Python header task fails the chord (ChordError, read by both)', celeriacChordFails, true],
    // The failing worker marks the rest of the chain failed where the client reads results.
    ['a Python client: a failing celeriac step fails the rest of the chain', pythonChainFails, false],
    ['a celeriac client: a failing Python step fails the rest of the chain', celeriacChainFails, false],
    ['a Python client: a chain with a group then tasks (a chord inside) is 15', pythonNested, true],
    ['a celeriac client: a chain with a group then tasks (a chord inside) is 15', celeriacNested, true],
    ['a Python client: a chord whose header members are chains ending in Python is 8', pythonHeaderChains, true],
    ['a celeriac client: a chord whose header members are chains ending in celeriac is 8', celeriacHeaderChains, true],
  ];
  for (const [title, check, chord] of checks) if (chords || !chord) it(title, () => check(run()));
}

