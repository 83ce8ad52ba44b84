/**
 * Checks the interop tests make the same way on every transport (Redis, RabbitMQ): what a Python
 * client sees of celeriac tasks' arguments and failures, and what a celeriac client sees of Python
 * tasks' failures.
 */
import assert from 'node:assert/strict';
import { RemoteTaskError, type AsyncResult } from '@celeriac/core';

/** What py_*interop_client.py `call` reports of one task (the part every transport shares). */
export interface PyCallOutcome {
  readonly state: string;
  readonly value?: unknown;
  readonly exception?: { type: string; module: string; args: unknown[]; str: string };
  readonly raised?: { type: string; module: string; args: unknown[]; str: string };
}

export interface PyCall {
  id: string;
  name: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

/** The calls of the arguments-and-failures case, ids made by `id()`; `add` is checked by the caller. */
export function argumentAndFailureCalls(id: () => string): { ids: Record<'add' | 'mixed' | 'kwOnly' | 'range' | 'custom' | 'badKw', string>; calls: PyCall[] } {
  const ids = { add: id(), mixed: id(), kwOnly: id(), range: id(), custom: id(), badKw: id() };
  const calls: PyCall[] = [
    { id: ids.add, name: 'interop.add', args: [2, 3] },
    { id: ids.mixed, name: 'interop.describe', args: ['x'], kwargs: { c: [1, { deep: true }, 'naïve ✓'] } },
    { id: ids.kwOnly, name: 'interop.describe', kwargs: { b: 2, a: 'only-kw' } },
    { id: ids.range, name: 'interop.fail', args: ['range', 'bad input 7'] },
    { id: ids.custom, name: 'interop.fail', args: ['custom', 'quota of 3 exceeded'] },
    { id: ids.badKw, name: 'interop.describe', kwargs: { a: 1, nope: 2 } },
  ];
  return { ids, calls };
}

/** Positional and keyword arguments map onto the celeriac task; its errors reach Python as Python errors. */
export function checkArgumentsAndFailures(out: ReadonlyMap<string, PyCallOutcome>, ids: ReturnType<typeof argumentAndFailureCalls>['ids']): void {
  assert.deepEqual(out.get(ids.mixed)!.value, { a: 'x', b: null, c: [1, { deep: true }, 'naïve ✓'] });
  assert.deepEqual(out.get(ids.kwOnly)!.value, { a: 'only-kw', b: 2, c: null });

  // A JavaScript RangeError is a Python ValueError; get() raises it with the message.
  const r = out.get(ids.range)!;
  assert.equal(r.state, 'FAILURE');
  assert.deepEqual(r.exception, { type: 'ValueError', module: 'builtins', args: ['bad input 7'], str: 'bad input 7' });
  assert.deepEqual(r.raised, r.exception);

  // An error class Python does not know: Celery synthesises one with the same name.
  const c = out.get(ids.custom)!;
  assert.equal(c.state, 'FAILURE');
  assert.equal(c.raised?.type, 'QuotaExceeded');
  assert.equal(c.raised?.str, 'quota of 3 exceeded');
  assert.deepEqual(c.exception?.args, ['quota of 3 exceeded']);

  const k = out.get(ids.badKw)!;
  assert.equal(k.state, 'FAILURE');
  assert.equal(k.raised?.type, 'TypeError');
  assert.match(k.raised?.str ?? '', /unexpected keyword argument 'nope'/);
}

/**
 * A Python ValueError arrives as RemoteTaskError "ValueError" with its module, arguments, message
 * and traceback; a wrong call fails inside Python with its TypeError.
 */
export async function checkPythonFailures(send: (name: string, options: { args?: unknown[]; kwargs?: Record<string, unknown> }) => Promise<AsyncResult>, waitMs: number): Promise<void> {
  const failing = await send('interop.py.fail', { args: ['the value 7 is not allowed'] });
  const error = await failing.get({ timeout: waitMs }).then(
    () => assert.fail('the task should have failed'),
    (err: unknown) => err,
  );
  assert.ok(error instanceof RemoteTaskError, `got ${String(error)}`);
  assert.equal(error.name, 'ValueError');
  assert.equal(error.excType, 'ValueError');
  assert.equal(error.excModule, 'builtins');
  assert.deepEqual(error.excArgs, ['the value 7 is not allowed']);
  assert.equal(error.message, 'the value 7 is not allowed');
  assert.equal(error.taskId, failing.id);
  assert.match(error.remoteTraceback ?? '', /ValueError: the value 7 is not allowed/);
  assert.equal(await failing.state(), 'FAILURE');

  const wrong = await send('interop.py.add', { args: [1], kwargs: { z: 2 } });
  const typeError = await wrong.get({ timeout: waitMs }).then(
    () => assert.fail('the call should have failed'),
    (err: unknown) => err,
  );
  assert.ok(typeError instanceof RemoteTaskError);
  assert.equal(typeError.name, 'TypeError');
  assert.match(typeError.message, /unexpected keyword argument 'z'/);
}

/** One task run recorded by a worker of the shared-queue tests. */
export interface SharedRun {
  readonly id: string;
  readonly worker: 'python' | 'celeriac';
  readonly hostname: string;
}

/**
 * Every id of `all` ran exactly once, its result (`values`, in the order of `all`) names the
 * worker that ran it and is SUCCESS, and both workers ran some. Returns the count per worker.
 */
export async function checkEachRanOnce(
  runs: readonly SharedRun[],
  all: readonly string[],
  values: readonly unknown[],
  state: (id: string) => Promise<string>,
  workers: { readonly python: string; readonly celeriac: string },
): Promise<{ python: number; celeriac: number; hostnames: string[] }> {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.id, (counts.get(run.id) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no task ran more than once');
  assert.deepEqual([...counts.keys()].sort(), [...all].sort(), 'every task ran, and only these');
  assert.equal(runs.length, all.length);

  const ranBy = new Map(runs.map((r) => [r.id, r]));
  all.forEach((id, i) => assert.equal(values[i], ranBy.get(id)!.worker, `the result of ${id} names the worker that ran it`));
  for (const id of all) assert.equal(await state(id), 'SUCCESS');

  const byWorker = { python: 0, celeriac: 0 };
  for (const r of runs) byWorker[r.worker]++;
  const hostnames = [...new Set(runs.map((r) => r.hostname))];
  assert.ok(byWorker.python > 0, `the Python worker ran some (${JSON.stringify(byWorker)})`);
  assert.ok(byWorker.celeriac > 0, `the celeriac worker ran some (${JSON.stringify(byWorker)})`);
  assert.ok(hostnames.some((h) => h.startsWith(`${workers.python}@`)));
  assert.ok(hostnames.includes(workers.celeriac));
  return { ...byWorker, hostnames };
}
