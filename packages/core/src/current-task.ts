/**
 * Which task is running, so a task that sends another one sets `parent_id` and `root_id` on it
 * without being told (Celery does the same from its request stack).
 *
 * Two mechanisms, because the general one is costly:
 * - While a task function's synchronous code runs, the frame is in a plain variable. A message is
 *   built synchronously when a send starts (app.ts `buildMessage`), so this covers every send a
 *   synchronous task makes.
 * - A function that returns a promise needs the frame in its continuations too: it runs inside an
 *   AsyncLocalStorage. On Node 20 an enabled AsyncLocalStorage installs promise hooks that every
 *   promise in the process pays for (measured: about a fifth of a worker's CPU per no-op task), so
 *   it is enabled only while such a task runs, and disabled when none is left.
 *
 * Which kind a task function is gets learnt on its first run: that run goes through the
 * AsyncLocalStorage; a function that returned something other than a promise runs with the plain
 * variable from then on. Work a task leaves behind without returning it (a timer it does not
 * await) carries no frame, as a thread a Celery task starts does not.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CurrentTask {
  readonly id: string;
  readonly rootId: string;
}

const storage = new AsyncLocalStorage<CurrentTask>();
/** The frame of the task whose synchronous code is running now. */
let syncFrame: CurrentTask | undefined;
/** Task runs in progress inside `storage`; it is disabled when this drops to 0. */
let inStorage = 0;
/** What each task function turned out to be on its first run. */
const kinds = new WeakMap<object, 'sync' | 'async'>();

/** The task running in this context, if any. */
export function currentTask(): CurrentTask | undefined {
  return syncFrame ?? storage.getStore();
}

/**
 * Calls `call` (which runs the task function identified by `key`) as the task `frame`, and
 * returns what it returned.
 */
export function runAsTask(key: object, frame: CurrentTask, call: () => unknown): unknown {
  const previous = syncFrame;
  syncFrame = frame;
  try {
    if (kinds.get(key) === 'sync') return call();
    inStorage++;
    let result: unknown;
    try {
      result = storage.run(frame, call);
    } catch (err) {
      leaveStorage();
      throw err;
    }
    if (!isThenable(result)) {
      kinds.set(key, 'sync');
      leaveStorage();
      return result;
    }
    kinds.set(key, 'async');
    Promise.resolve(result).then(leaveStorage, leaveStorage);
    return result;
  } finally {
    syncFrame = previous;
  }
}

function leaveStorage(): void {
  if (--inStorage === 0) storage.disable();
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}
