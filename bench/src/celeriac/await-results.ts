/**
 * Waiting until every one of many tasks has a stored SUCCESS, through the public backend API
 * (`getMany` + `watch`), cheaply enough not to slow the run it measures.
 *
 * Tasks finish roughly in the order they were sent, so only a window at the front of the list is
 * read each time: the ones not done yet plus the next ids in send order. Each result is decoded
 * once (when it is first seen done); ids not stored yet cost an index miss. Unless a whole window
 * was done, it waits for the backend's next change notification (or `maxWaitMs`) before reading
 * again, so it never spins: with the memory store it shares a thread with the worker.
 *
 * It also reads at most once per `minIntervalMs` (5 ms), the resolution at which the peers' rows
 * poll their completed counts. Without it, a worker finishing tasks one at a time (concurrency 1)
 * would wake it once per task, and each wake reads a whole window: on Redis that cost the producer
 * and the server more CPU per task than the worker itself, on a machine they all share.
 */
import { READY_STATES, States, type ResultBackend } from '@celeriac/core';

export interface AwaitOptions {
  /** Ids read per look. @default 512 */
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
  const window = options.window ?? 512;
  const maxWaitMs = options.maxWaitMs ?? 10;
  const minIntervalMs = options.minIntervalMs ?? 5;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let carry: string[] = [];
  let cursor = 0;
  while (carry.length > 0 || cursor < ids.length) {
    const take = Math.max(0, window - carry.length);
    const look = carry.concat(ids.slice(cursor, cursor + take));
    cursor = Math.min(ids.length, cursor + take);
    // Watch before reading, so a write landing between the read and the wait still wakes us.
    const wake = new AbortController();
    const timer = setTimeout(() => wake.abort(), maxWaitMs);
    const changed = backend.watch(look[0]!, wake.signal);
    const lookedAt = performance.now();
    try {
      const metas = await backend.getMany(look);
      carry = [];
      for (let i = 0; i < look.length; i++) {
        const status = metas[i]?.status;
        if (status === States.SUCCESS) continue;
        if (status !== undefined && READY_STATES.has(status)) throw new Error(`task ${look[i]} ended in ${status}, not SUCCESS`);
        carry.push(look[i]!);
      }
      if (Date.now() > deadline) throw new Error(`gave up waiting: ${carry.length + ids.length - cursor} of ${ids.length} results not stored`);
      // A window all done: look at the next one at once. Otherwise wait for a change.
      if (carry.length > 0) {
        await changed;
        const rest = minIntervalMs - (performance.now() - lookedAt);
        if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      }
    } finally {
      wake.abort();
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
