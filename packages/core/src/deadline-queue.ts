/**
 * Deadlines served by one Node timer: what a waiter arms for every awaited result (its bounded
 * wait) and usually disarms well before it is due.
 *
 * A Node timer per wait costs a Timeout object, and (since the list of its duration is emptied
 * again as the wait ends) a timer list and a priority-queue insertion and removal, on every
 * `result.get()`. Here arming a deadline is a push on a binary heap and disarming it clears a
 * field; the one timer stays armed for the earliest deadline ever pushed and, when it fires,
 * calls what is due and re-arms for the earliest one left. When the last live deadline is
 * disarmed the heap is emptied at once (the common case: one wait at a time) and the timer no
 * longer holds the process open, as a cleared timer would not.
 */

/** What a deadline stops. */
export interface Stoppable {
  stop(): void;
}

/** An armed deadline; hand it back to {@link DeadlineQueue.cancel}. */
export interface Deadline {
  /** When it is due (performance.now() ms). */
  readonly at: number;
  /** Null once it fired or was cancelled. */
  target: Stoppable | null;
}

export class DeadlineQueue {
  /** A binary min-heap on `at`; cancelled entries stay until they reach the top. */
  private readonly heap: Deadline[] = [];
  /** Entries not yet fired or cancelled. */
  private live = 0;
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires; Infinity when none is armed. */
  private armedAt = Infinity;
  private readonly onTimer = (): void => this.fire();

  /**
   * @param holdsProcess whether live deadlines keep the process running, as a Node timer does;
   *   false for waits that something else (a connection) keeps alive anyway, which spares
   *   re-referencing the timer each time one is armed while none was. @default true
   */
  constructor(private readonly holdsProcess = true) {}

  /** Calls `target.stop()` once `ms` have passed, unless the deadline is cancelled first. */
  add(ms: number, target: Stoppable): Deadline {
    const entry: Deadline = { at: performance.now() + ms, target };
    this.push(entry);
    if (++this.live === 1 && this.holdsProcess) this.timer?.ref();
    if (entry.at < this.armedAt) this.arm(entry.at);
    return entry;
  }

  /** Disarms `entry` (idempotent; nothing happens if it already fired). */
  cancel(entry: Deadline): void {
    if (entry.target === null) return;
    entry.target = null;
    if (--this.live === 0) {
      this.heap.length = 0;
      if (this.holdsProcess) this.timer?.unref();
    }
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    // Whole milliseconds (timers of one duration share Node's list); a timer that fires a little
    // early (Node counts from the loop's cached time) finds nothing due and re-arms.
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(at - performance.now())));
    if (!this.holdsProcess) this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    this.armedAt = Infinity;
    const now = performance.now();
    const heap = this.heap;
    while (heap.length > 0 && (heap[0]!.target === null || heap[0]!.at <= now)) {
      const entry = this.pop();
      const target = entry.target;
      if (target === null) continue;
      entry.target = null;
      if (--this.live === 0) heap.length = 0;
      target.stop();
    }
    // A target's stop() may have added deadlines (and armed the timer for one of them).
    if (heap.length > 0 && heap[0]!.at < this.armedAt) this.arm(heap[0]!.at);
  }

  private push(entry: Deadline): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Deadline {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
