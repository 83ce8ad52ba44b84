/**
 * The result backend contract: a small key-value store of result metadata by task id. Waiting for
 * a result and retries are helpers built on top of it, not part of it. Saved groups and chord
 * counting, which the canvas needs, are optional parts (groups-and-chords.ts).
 *
 * Every backend runs the conformance suite in `@celeriac/testing`.
 */
import type { ResultMeta } from '../protocol/result-meta.js';
import type { ChordStore, GroupStore } from './groups-and-chords.js';

export interface BackendCapabilities {
  /** Results survive a restart of the process that wrote them. */
  readonly persistent: boolean;
  /** Other processes can read what this one writes. */
  readonly shared: boolean;
}

export interface SetResultOptions {
  /** Seconds until the entry expires; null or undefined keeps it forever. */
  readonly expiresIn?: number | null;
  /**
   * The channel the sender of the task asked to be told on (its message's `celeriac_notify`
   * header, from {@link ResultBackend.expect}). A backend with push notification publishes the
   * stored metadata there too; others ignore it.
   */
  readonly notify?: string | null;
  /**
   * Where the sender of the task asked results to be sent (its message's `reply_to`), and with
   * which correlation id (its `correlation_id`, the task id): what an rpc backend publishes to.
   * Other backends ignore them.
   */
  readonly replyTo?: string | null;
  readonly correlationId?: string | null;
  /**
   * The caller knows of no state stored before for this task id (a SUCCESS written by the worker
   * that ran the task's first delivery, not a retry, with no STARTED or progress state stored for
   * it). A backend may then write without reading first; it must still never replace a stored
   * SUCCESS. Backends that read first anyway ignore it.
   */
  readonly firstWrite?: boolean;
}

/** One `watch()`: settles at the next wake-up, or when stopped. */
export interface ResultWatch {
  /**
   * Resolves at the next change that may concern the task (with the new metadata when the
   * backend's notification carries it), or with nothing once `stop()` is called.
   */
  readonly woken: Promise<ResultMeta | void>;
  /** Ends the watch (idempotent); a watch must be stopped or woken, or it is held. */
  stop(): void;
}

export interface ResultBackend {
  readonly capabilities: BackendCapabilities;
  connect(): Promise<void>;
  /** The stored metadata, or null when there is none (or it expired). */
  get(taskId: string): Promise<ResultMeta | null>;
  getMany(taskIds: readonly string[]): Promise<(ResultMeta | null)[]>;
  /**
   * Stores metadata. Must never replace a stored `SUCCESS` (Celery's dedup guard: a redelivered
   * task that runs twice cannot turn a success into a failure).
   */
  set(taskId: string, meta: ResultMeta, options?: SetResultOptions): Promise<void>;
  delete(taskId: string): Promise<void>;
  /**
   * Watches for the next change that may concern `taskId` (or a little later), until stopped. A
   * backend with push notification wakes promptly; one without may wake after a short poll
   * interval. Callers re-read with `get()` afterwards. The watch is armed by the time the call
   * returns, or else it wakes once it is armed (Redis confirms a SUBSCRIBE later), so a caller's
   * watch-then-get-then-wait loop never misses a write. A backend whose notification carries the
   * new metadata (Redis publishes it) may wake with it, sparing the caller a read.
   */
  watch(taskId: string): ResultWatch;
  /**
   * Optional. The app is about to send `taskId` and its result will likely be awaited: a backend
   * whose `watch()` takes a round trip to arm (a Redis SUBSCRIBE) may start arming it now, so it
   * is live before the task's worker can publish (Celery's client subscribes as it sends, too).
   * It holds nothing for long: unwatched, it lapses as a finished watch does. It may return a
   * channel name for the message's `celeriac_notify` header: a worker storing the task's state
   * on this backend then also publishes it there ({@link SetResultOptions.notify}).
   */
  expect?(taskId: string): string | void;
  /**
   * Optional. What the backend can tell without a round trip, for a task it was told to `expect`:
   * the latest metadata pushed to it, or null when it knows nothing was stored yet; undefined
   * when it cannot tell (then read with `get()`). Waiters use it for their first look only.
   */
  peek?(taskId: string): ResultMeta | null | undefined;
  /** Optional: saved group results (`GroupResult.save()`); without it, saving a group fails clearly. */
  readonly groups?: GroupStore;
  /** Optional: chord counting; without it the backend cannot hold chords (applying one fails clearly). */
  readonly chords?: ChordStore;
  close(): Promise<void>;
}
