/**
 * Which task is running, so a task that sends another one sets `parent_id` and `root_id` on it
 * without being told (Celery does the same from its request stack).
 *
 * The frame lives in an AsyncLocalStorage, so it follows the task's promise continuations (an
 * `async` function's code after an `await`). On Node 20 an enabled AsyncLocalStorage installs
 * promise hooks that every promise in the process pays for (measured: about a fifth of a worker's
 * CPU per no-op task when it stays on), so it is enabled only while a task runs: a run of a
 * synchronous task function enables it and disables it again as it returns, a run that returned a
 * promise keeps it on until that promise settles. Node takes the promise hooks off only in a
 * microtask queued as the storage is disabled, so the worker makes its own promises (the next
 * take, the result write) from microtasks queued after that one (worker.ts pumpSoon, finished()).
 * Tasks the worker starts one after another in one go share one turn on and off (holdTaskStorage);
 * there the results of the tasks that finish during that turn are written with the hooks on (no
 * measurable cost, see worker.ts finished()).
 *
 * Work a task starts without returning it (a timer it does not await) may or may not see the
 * frame, depending on whether the storage is on when it runs: do not rely on it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CurrentTask {
  readonly id: string;
  readonly rootId: string;
}

const storage = new AsyncLocalStorage<CurrentTask>();
/** Task runs in progress inside `storage`; it is disabled when this drops to 0. */
let inStorage = 0;

/** The task running in this context, if any. */
export function currentTask(): CurrentTask | undefined {
  return storage.getStore();
}

/** Calls `call` (which runs a task function) as the task `frame`, and returns what it returned. */
export function runAsTask(frame: CurrentTask, call: () => unknown): unknown {
  inStorage++;
  let result: unknown;
  try {
    result = storage.run(frame, call);
  } catch (err) {
    leaveStorage();
    throw err;
  }
  if (!isThenable(result)) {
    leaveStorage();
    return result;
  }
  // Adopted once, here: a lazy thenable (a query builder) runs again on every then().
  const settled = Promise.resolve(result);
  settled.then(leaveStorage, leaveStorage);
  return settled;
}

function leaveStorage(): void {
  if (--inStorage === 0) storage.disable();
}

/**
 * Keeps the storage on (once a task run has turned it on) until the returned function is called,
 * for tasks started one after another: one disable at the end instead of one per task. Turning it
 * on and off costs a few microseconds and allocates hooks each time, and Node would not take the
 * hooks off between those tasks anyway (see above).
 */
export function holdTaskStorage(): () => void {
  inStorage++;
  return leaveStorage;
}

/** How many task runs (and holds) keep the storage on now; 0 when it is off. For tests. */
export function taskStorageDepth(): number {
  return inStorage;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}
