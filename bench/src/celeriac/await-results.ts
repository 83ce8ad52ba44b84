/**
 * Waiting until every one of many tasks has a stored SUCCESS, through the public backend API
 * (`getMany` + `watch`), cheaply enough not to slow the run it measures.
 *
 * Tasks finish roughly in the order they were sent, so only a window at the front of the list is
 * read each time: the oldest ones not done yet, then the next ids in send order. The window is
 * twice what finished since the last look (32 to `window` ids), so the waiter reads about two keys
 * per task rather than a full window of mostly unfinished ones: the peers' rows poll a completed
 * count, one command, and this row must not load the server it shares much more than they do.
 * Unless everything it looked at was done, it waits for the backend's next change notification (or
 * `maxWaitMs`) before reading again, so it never spins: with the memory store it shares a thread
 * with the worker.
 *
 * It also reads at most once per `minIntervalMs` (5 ms), the resolution at which the peers' rows
 * poll their completed counts. Without it, a worker finishing tasks one at a time (concurrency 1)
 * would wake it once per task, and each wake reads a whole window: on Redis that cost the producer
 * and the server more CPU per task than the worker itself, on a machine they all share.
 */
import { READY_STATES, States, type ResultBackend } from '@celeriac/core';

export interface AwaitOptions {
  /** Most ids read per look. @default 512 */
  readonly window?: number;
  /** Longest pause between looks when no notification comes, ms. @default 10 */
  readonly maxWaitMs?: number;
  /** Shortest time from one look to the next unless a whole window was done, ms. @default 5 */
  readonly minIntervalMs?: number;
  /** Give up (reject) after this long, ms. @default 600000 */
  readonly timeoutMs?: number;
}

/** Resolves once every id in `ids` has a stored SUCCESS; rejects if one ends in another state. */
export async function awaitAllSucceeded(backend: ResultBackend, ids: readonly string[], options: AwaitOptions = {}): Promise<void> {
  const maxWindow = options.window ?? 512;
  // Ids read per look: twice what finished since the last look (at least 32), so a look reads
  // about two keys per finished task instead of a whole window of mostly unfinished ones (which
  // cost Redis more than the tasks' own reads and writes at 20,000 tasks a second).
  let window = 32;
  const maxWaitMs = options.maxWaitMs ?? 10;
  const minIntervalMs = options.minIntervalMs ?? 5;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let carry: string[] = [];
  let cursor = 0;
  while (carry.length > 0 || cursor < ids.length) {
    // The oldest unfinished ids first, then the next ones in send order, `window` in all.
    const older = carry.slice(0, window);
    const unread = carry.slice(window);
    const take = Math.max(0, window - older.length);
    const look = older.concat(ids.slice(cursor, cursor + take));
    cursor = Math.min(ids.length, cursor + take);
    // Watch before reading, so a write landing between the read and the wait still wakes us.
    const changed = backend.watch(look[0]!);
    const timer = setTimeout(changed.stop, maxWaitMs);
    const lookedAt = performance.now();
    try {
      const metas = await backend.getMany(look);
      const olderLeft: string[] = [];
      const newLeft: string[] = [];
      for (let i = 0; i < look.length; i++) {
        const status = metas[i]?.status;
        if (status === States.SUCCESS) continue;
        if (status !== undefined && READY_STATES.has(status)) throw new Error(`task ${look[i]} ended in ${status}, not SUCCESS`);
        (i < older.length ? olderLeft : newLeft).push(look[i]!);
      }
      window = Math.min(maxWindow, Math.max(32, 2 * (look.length - olderLeft.length - newLeft.length)));
      // Unfinished ids stay in send order: those looked at, those not looked at, the new ones.
      carry = olderLeft.concat(unread, newLeft);
      if (Date.now() > deadline) throw new Error(`gave up waiting: ${carry.length + ids.length - cursor} of ${ids.length} results not stored`);
      // Everything looked at was done: look further at once. Otherwise wait for a change.
      if (olderLeft.length + newLeft.length > 0) {
        await changed.woken;
        const rest = minIntervalMs - (performance.now() - lookedAt);
        if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      }
    } finally {
      changed.stop();
      clearTimeout(timer);
    }
  }
}

/** How many of `ids` have a stored SUCCESS (read in chunks; for checking after the clock stops). */
export async function countSucceeded(backend: ResultBackend, ids: readonly string[], chunk = 1000): Promise<number> {
  let succeeded = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const metas = await backend.getMany(ids.slice(i, i + chunk));
    for (const meta of metas) if (meta?.status === States.SUCCESS) succeeded++;
  }
  return succeeded;
}
