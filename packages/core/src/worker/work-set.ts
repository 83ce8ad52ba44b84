/**
 * Work in flight that the worker must see finish before it stops (accepting, recording and
 * settling messages; task bodies). A count, not a set of promises: each piece costs one reaction,
 * where wrapping it (`catch` + `finally` + a Set entry) cost three promises per piece, several
 * pieces per task.
 */
export type WorkDone = (failed: boolean, error: unknown) => void;

export class WorkSet {
  private count = 0;
  private waiters: Array<() => void> = [];

  /** @param onError where a failure goes when the piece has no `done` of its own. */
  constructor(private readonly onError: (error: unknown) => void) {}

  get size(): number {
    return this.count;
  }

  /** Counts `work` until it settles, then calls `done` (or reports a failure to `onError`). */
  add(work: PromiseLike<unknown>, done?: WorkDone): void {
    this.count++;
    // A plain value where a promise was due (a JavaScript backend whose set() returns nothing):
    // done at once, rather than counted for ever.
    if (work === null || typeof (work as { then?: unknown } | undefined)?.then !== 'function') {
      queueMicrotask(() => this.finish(done, false, undefined));
      return;
    }
    work.then(
      () => this.finish(done, false, undefined),
      (error: unknown) => this.finish(done, true, error),
    );
  }

  /** Resolves when the next piece finishes (at once when there is none). */
  changed(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private finish(done: WorkDone | undefined, failed: boolean, error: unknown): void {
    this.count--;
    try {
      if (done) done(failed, error);
      else if (failed) this.onError(error);
    } finally {
      if (this.waiters.length > 0) for (const wake of this.waiters.splice(0)) wake();
    }
  }
}
