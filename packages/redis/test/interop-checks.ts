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
