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
 *
 * This is the client's side of every awaited round trip, so it is lean: tasks are known by id
 * (the id a pushed state names, no key built per look), a pushed message is parsed once for the
 * watcher it wakes, and the waits for a push share one timer (DeadlineQueue).
 */
import { DeadlineQueue, decodeResultMeta, type Deadline, type ResultMeta, type ResultWatch } from '@celeriac/core';

/** Notify channels are named `<key prefix>celeriac-notify-<uuid>`. */
export const NOTIFY_CHANNEL_PREFIX = 'celeriac-notify-';

/** A task sent with this channel in its header. */
interface Expected {
  readonly id: string;
  /** When it was sent (performance.now() ms). */
  at: number;
  /** When it was first watched; the wait for a push is counted from then. */
  watchedAt: number | null;
  /** The last state pushed for it, as published. */
  last: string | undefined;
  /** Its watches, made on its first watch (most tasks are sent and awaited once). */
  watchers: PushWatch[] | null;
}

/** One watch on the channel: woken by the task's next push, its wait's end, or stop(). */
class PushWatch implements ResultWatch {
  readonly woken: Promise<ResultMeta | undefined>;
  private resolve!: (meta: ResultMeta | undefined) => void;
  deadline: Deadline | null = null;

  constructor(
    /** The task's watches (shared with a later send of the same id), this one among them. */
    private readonly watchers: PushWatch[],
    private readonly deadlines: DeadlineQueue,
  ) {
    this.woken = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  stop(): void {
    this.wake(undefined);
  }

  wake(meta: ResultMeta | undefined): void {
    const watchers = this.watchers;
    const i = watchers.indexOf(this);
    if (i < 0) return;
    // Their order does not matter (a push wakes them all): the last one takes this one's place.
    const last = watchers.pop()!;
    if (last !== this) watchers[i] = last;
    if (this.deadline) this.deadlines.cancel(this.deadline);
    this.resolve(meta);
  }
}

export class NotifyChannel {
  /** By task id. */
  private readonly expected = new Map<string, Expected>();
  /**
   * The same entries in the order they were sent, from `head` on (pruned from the front without
   * iterating the map, whose deleted slots an iteration would skip one by one).
   */
  private order: Expected[] = [];
  private head = 0;
  /** The waits for a push; the subscriber connection, not they, keeps the process running. */
  private readonly deadlines = new DeadlineQueue(false);
  private pruneTimer: NodeJS.Timeout | null = null;

  /**
   * @param name the channel.
   * @param waitMs how long after the send a watch waits for a push before its caller turns to
   *   the task's own channel.
   * @param lingerMs how long what was pushed for a task is remembered.
   */
  constructor(
    readonly name: string,
    private readonly waitMs: number,
    private readonly lingerMs: number,
  ) {}

  /** The task is about to be sent with this channel in its header. */
  expect(taskId: string): void {
    const known = this.expected.get(taskId);
    // An id sent again: what was pushed belongs to the earlier send, and it moves to the back.
    if (known) this.expected.delete(taskId);
    const now = performance.now();
    const entry: Expected = { id: taskId, at: now, watchedAt: null, last: undefined, watchers: known?.watchers ?? null };
    this.expected.set(taskId, entry);
    this.order.push(entry);
    this.prune(now);
  }

  /**
   * What was pushed for the task: the last state, or null when nothing was pushed yet and the
   * push may still come; undefined when this channel cannot tell (or what was pushed is not
   * result metadata).
   */
  peek(taskId: string): ResultMeta | null | undefined {
    const entry = this.expected.get(taskId);
    if (!entry) return undefined;
    // Decoded afresh for each look: a caller may keep (and change) what it was given.
    if (entry.last !== undefined) return decodeResultMeta(taskId, JSON.parse(entry.last)) ?? undefined;
    return performance.now() - (entry.watchedAt ?? entry.at) < this.waitMs ? null : undefined;
  }

  /**
   * Watches the task on this channel: wakes with its next push, or (without metadata) once
   * `waitMs` has passed since it was first watched. Null when the task is not watched here (not
   * sent with this channel, forgotten, or past its wait): then its own channel serves.
   */
  watch(taskId: string): ResultWatch | null {
    const entry = this.expected.get(taskId);
    if (!entry) return null;
    const now = performance.now();
    // Not for a task long sent and never pushed (its push, if any, would have come).
    if (entry.watchedAt === null && now - entry.at >= this.lingerMs) return null;
    entry.watchedAt ??= now;
    const left = entry.watchedAt + this.waitMs - now;
    if (left <= 0) return null;
    const watchers = (entry.watchers ??= []);
    const watch = new PushWatch(watchers, this.deadlines);
    watchers.push(watch);
    watch.deadline = this.deadlines.add(left, watch);
    return watch;
  }

  /** A message on the channel: the metadata JSON of one task's state. */
  onMessage(payload: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return; // not ours to judge: nothing waits on a message that names no task
    }
    const taskId = (parsed as { task_id?: unknown } | null)?.task_id;
    if (typeof taskId !== 'string') return;
    const entry = this.expected.get(taskId);
    if (!entry) return;
    entry.last = payload;
    const watchers = entry.watchers;
    if (watchers === null) return;
    // The first watch takes this parse; another (rare) gets its own copy, as a peek does.
    for (let first = true; watchers.length > 0; first = false) {
      watchers[0]!.wake(decodeResultMeta(taskId, first ? parsed : JSON.parse(payload)) ?? undefined);
    }
  }

  /** The connection broke, or is closing: forget what was pushed, wake every watcher. */
  reset(): void {
    const entries = [...this.expected.values()];
    this.expected.clear();
    this.order = [];
    this.head = 0;
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    for (const entry of entries) {
      const watchers = entry.watchers;
      if (watchers !== null) while (watchers.length > 0) watchers[0]!.stop();
    }
  }

  /** Forgets tasks sent more than `lingerMs` ago (oldest first; watched ones wait their turn). */
  private prune(now: number): void {
    const order = this.order;
    const end = order.length;
    while (this.head < end) {
      const entry = order[this.head]!;
      if (now - entry.at < this.lingerMs) break;
      this.head++;
      // Not if a later send of the id took its place (that one has its own place in the order).
      if (this.expected.get(entry.id) !== entry) continue;
      if (entry.watchers !== null && entry.watchers.length > 0) order.push(entry);
      else this.expected.delete(entry.id);
    }
    if (this.head > 1024 && this.head * 2 > order.length) {
      order.splice(0, this.head);
      this.head = 0;
    }
    if (this.expected.size > 0 && !this.pruneTimer) {
      this.pruneTimer = setTimeout(() => {
        this.pruneTimer = null;
        this.prune(performance.now());
      }, this.lingerMs);
      this.pruneTimer.unref();
    }
  }
}
