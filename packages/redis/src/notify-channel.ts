/**
 * A client's own notification channel: one Pub/Sub channel per backend instance
 * (`celeriac-notify-<uuid>`), subscribed once, on which celeriac workers also publish the states
 * they store for a task whose message asked for it (header `celeriac_notify`). A task sent this
 * way needs no SUBSCRIBE of its own: on this machine's loopback each write is a system call that
 * costs about as much as the rest of a round trip's client work, and a per-task SUBSCRIBE (and
 * its UNSUBSCRIBE) is one more write and one more reply for every awaited task.
 *
 * Only celeriac workers honour the header. A task that a Python Celery worker runs is seen on the
 * task's own channel: a watch that has heard nothing for `waitMs` (counted from the first watch,
 * which normally starts when the send has returned) wakes its caller, which reads the key and
 * watches the task's own channel from then on (Celery's way). So the fast path costs a
 * Python-run task at most about `waitMs` more, and only if it finished sooner. A celeriac task
 * that runs longer than `waitMs` pays that way too (a SUBSCRIBE and a GET, besides the push): the
 * price of not knowing which kind of worker takes a task.
 *
 * What was pushed is remembered per task for `lingerMs` after the send (what `peek` tells); a
 * broken connection forgets it all (messages published meanwhile are lost) and wakes the
 * watchers, who then read the store.
 */

/** Notify channels are named `<key prefix>celeriac-notify-<uuid>`. */
export const NOTIFY_CHANNEL_PREFIX = 'celeriac-notify-';

/** A task sent with this channel in its header. */
interface Expected {
  /** When it was sent (performance.now() ms). */
  at: number;
  /** When it was first watched; the wait for a push is counted from then. */
  watchedAt: number | null;
  /** The last state pushed for it, as published. */
  last: string | undefined;
  readonly watchers: Set<(payload?: string) => void>;
}

export class NotifyChannel {
  private readonly expected = new Map<string, Expected>();
  private pruneTimer: NodeJS.Timeout | null = null;

  /**
   * @param name the channel.
   * @param keyOf the task's key (and channel) from its id, as `expected` is indexed.
   * @param waitMs how long after the send a watch waits for a push before its caller turns to
   *   the task's own channel.
   * @param lingerMs how long what was pushed for a task is remembered.
   */
  constructor(
    readonly name: string,
    private readonly keyOf: (taskId: string) => string,
    private readonly waitMs: number,
    private readonly lingerMs: number,
  ) {}

  /** The task (by key) is about to be sent with this channel in its header. */
  expect(key: string): void {
    const known = this.expected.get(key);
    // An id sent again: what was pushed belongs to the earlier send, and it moves to the back.
    if (known) this.expected.delete(key);
    this.expected.set(key, { at: performance.now(), watchedAt: null, last: undefined, watchers: known?.watchers ?? new Set() });
    this.prune();
  }

  /**
   * What was pushed for the task: the last state, or null when nothing was pushed yet and the
   * push may still come; undefined when this channel cannot tell.
   */
  peek(key: string): string | null | undefined {
    const entry = this.expected.get(key);
    if (!entry) return undefined;
    if (entry.last !== undefined) return entry.last;
    return performance.now() - (entry.watchedAt ?? entry.at) < this.waitMs ? null : undefined;
  }

  /**
   * Watches the task on this channel: wakes at its next push, or (without a payload) once
   * `waitMs` has passed since it was first watched. Null when the task is not watched here (not
   * sent with this channel, forgotten, or past its wait): then its own channel serves.
   */
  watch(key: string): { woken: Promise<string | undefined>; stop: () => void } | null {
    const entry = this.expected.get(key);
    if (!entry) return null;
    const now = performance.now();
    // Not for a task long sent and never pushed (its push, if any, would have come).
    if (entry.watchedAt === null && now - entry.at >= this.lingerMs) return null;
    entry.watchedAt ??= now;
    const left = entry.watchedAt + this.waitMs - now;
    if (left <= 0) return null;
    let wake!: (payload?: string) => void;
    const woken = new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => wake(), left);
      wake = (payload?: string) => {
        if (!entry.watchers.delete(wake)) return;
        clearTimeout(timer);
        resolve(payload);
      };
      entry.watchers.add(wake);
    });
    return { woken, stop: () => wake() };
  }

  /** A message on the channel: the metadata JSON of one task's state. */
  onMessage(payload: string): void {
    let taskId: unknown;
    try {
      taskId = (JSON.parse(payload) as { task_id?: unknown })?.task_id;
    } catch {
      return; // not ours to judge: nothing waits on a message that names no task
    }
    if (typeof taskId !== 'string') return;
    const entry = this.expected.get(this.keyOf(taskId));
    if (!entry) return;
    entry.last = payload;
    for (const wake of [...entry.watchers]) wake(payload);
  }

  /** The connection broke, or is closing: forget what was pushed, wake every watcher. */
  reset(): void {
    const entries = [...this.expected.values()];
    this.expected.clear();
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    for (const entry of entries) for (const wake of [...entry.watchers]) wake();
  }

  /** Forgets tasks sent more than `lingerMs` ago (oldest first; watched ones wait their turn). */
  private prune(): void {
    const now = performance.now();
    for (const [key, entry] of this.expected) {
      if (now - entry.at < this.lingerMs) break;
      if (entry.watchers.size > 0) continue;
      this.expected.delete(key);
    }
    if (this.expected.size > 0 && !this.pruneTimer) {
      this.pruneTimer = setTimeout(() => {
        this.pruneTimer = null;
        this.prune();
      }, this.lingerMs);
      this.pruneTimer.unref();
    }
  }
}
