/**
 * What a running task receives as its first argument. Explicit, no magic `this`.
 */
import type { TaskState } from './protocol/result-meta.js';

export interface RetryOptions {
  /** Seconds until the retry runs. @default backoff when configured, else the task's defaultRetryDelay */
  countdown?: number;
  /** Exact instant of the retry (instead of countdown). */
  eta?: Date;
  /** The error to record for this retry, and to fail with after the last one. */
  exc?: unknown;
  /** Overrides the task's maxRetries for this call. */
  maxRetries?: number | null;
}

export interface TaskContext {
  /** Task id (the same across retries). */
  readonly id: string;
  /** Registered task name. */
  readonly name: string;
  /** Retries done so far (0 on the first run). */
  readonly retries: number;
  /** Aborted at the soft time limit (reason: SoftTimeLimitExceeded) or on cold shutdown. */
  readonly signal: AbortSignal;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly rootId: string;
  readonly parentId: string | null;
  readonly groupId: string | null;
  readonly eta: Date | null;
  readonly expires: Date | null;
  /** The worker's node name (`name@host`). */
  readonly hostname: string;
  /** Queue the message came from. */
  readonly queue: string;
  readonly priority: number;
  readonly redelivered: boolean;
  /** All message headers, user headers included. */
  readonly headers: Readonly<Record<string, unknown>>;
  /**
   * Asks for a retry. Always throws: a Retry (handled by the worker) or, after the last allowed
   * retry, `exc` itself (or MaxRetriesExceededError) so the task fails with it.
   */
  retry(options?: RetryOptions): never;
  /** Stores a custom state (e.g. `PROGRESS`) with its meta, visible to `AsyncResult.state()`. */
  updateState(state: TaskState, meta?: unknown): Promise<void>;
  /** Shorthand for `updateState('PROGRESS', meta)`. */
  progress(meta: unknown): Promise<void>;
}
