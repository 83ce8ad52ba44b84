/**
 * Waiting for a result on any backend: watch first, then read, so a write that lands between the
 * read and the wait is never missed; re-read after every wake-up.
 */
import { DeadlineQueue } from '../deadline-queue.js';
import { ConfigError } from '../errors.js';
import { READY_STATES, type ResultMeta } from '../protocol/result-meta.js';
import type { ResultBackend } from './result-backend.js';

/** The bounded waits of every waiter in the process, on one timer (see deadline-queue.ts). */
const deadlines = new DeadlineQueue();

/** Resolves with the ready metadata, or null when `timeoutMs` passes (or `signal` aborts) first. */
export async function waitForReady(
  backend: ResultBackend,
  taskId: string,
  timeoutMs?: number,
  signal?: AbortSignal,
): Promise<ResultMeta | null> {
  if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
    throw new ConfigError(`result.get() option "timeout" must be a non-negative number of milliseconds (or left out to wait without limit), got ${String(timeoutMs)}`);
  }
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  // The first look may be the backend's own knowledge (a watch armed as the task was sent); every
  // later one, after a wake-up without a final state, reads the store.
  // Not for a caller that will not wait (timeout 0): the backend's knowledge is of what was
  // published, and a result stored before the send (an id sent again) is only in the store.
  let peek = backend.peek !== undefined && timeoutMs !== 0;
  if (peek) {
    // Already known to be ready: no watch to arm (on Redis, arming one late may SUBSCRIBE).
    const known = backend.peek!(taskId);
    if (known && READY_STATES.has(known.status)) return known;
  }
  for (;;) {
    // No AbortController here: this runs once per awaited result, and Node's are costly.
    const watch = backend.watch(taskId);
    const stop = signal === undefined ? undefined : () => watch.stop();
    if (stop) signal!.addEventListener('abort', stop, { once: true });
    const remaining = deadline - Date.now();
    // A bounded wait even without a deadline, in case a backend's notification is ever lost.
    const timer = remaining > 0 ? deadlines.add(Math.min(remaining, 1000), watch) : null;
    try {
      // Looked at again once the watch is armed, in the same turn: nothing can be published
      // between this look and the watch.
      const known = peek ? backend.peek!(taskId) : undefined;
      peek = false;
      const meta = known === undefined ? await backend.get(taskId) : known;
      if (meta && READY_STATES.has(meta.status)) return meta;
      if (remaining <= 0 || signal?.aborted) return null;
      const pushed = await watch.woken;
      if (pushed && pushed.task_id === taskId && READY_STATES.has(pushed.status)) return pushed;
    } finally {
      watch.stop();
      if (timer) deadlines.cancel(timer);
      if (stop) signal!.removeEventListener('abort', stop);
    }
  }
}
