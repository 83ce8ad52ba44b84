/**
 * One delivered task message, decoded, with what the worker needs to run and report it.
 */
import type { Delivery } from '../broker/broker.js';
import type { TaskMessage } from '../protocol/task-message.js';
import type { RegisteredTask } from '../task.js';

const RESOLVED = Promise.resolve();

export class TaskRequest {
  /**
   * The task's AbortController, made on first use: most tasks never look at `ctx.signal`, and one
   * controller per task is measurable on the hot path.
   */
  private controller: AbortController | null = null;
  /** True while the task function runs (cold shutdown aborts only those). */
  running = false;
  /** True once the delivery was acked or rejected (after the broker confirmed it). */
  settled = false;
  private settling: Promise<void> | null = null;
  /** A cold shutdown gave this late-ack message back; its outcome here is not reported. */
  givenBack = false;
  /** True once the task's outcome is being reported; later state updates are ignored. */
  finished = false;
  /** True once this worker stored a state for it before its outcome (STARTED, progress, custom). */
  stateStored = false;
  constructor(
    readonly delivery: Delivery,
    readonly message: TaskMessage,
    readonly task: RegisteredTask,
  ) {}

  /** The signal handed to the task as `ctx.signal`. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** Aborts the task's signal (once) with `reason`. */
  abort(reason: unknown): void {
    this.controller ??= new AbortController();
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Why the signal was aborted, or undefined while it was not. */
  get abortReason(): unknown {
    return this.controller?.signal.aborted ? this.controller.signal.reason : undefined;
  }

  get id(): string {
    return this.message.headers.id;
  }
  get name(): string {
    return this.message.headers.task;
  }
  get retries(): number {
    return this.message.headers.retries;
  }
  get ignoreResult(): boolean {
    return this.message.headers.ignore_result || this.task.options.ignoreResult;
  }
  get acksLate(): boolean {
    return this.task.options.acksLate;
  }
  /** `[hard, soft]` seconds: the message header wins over the task's options, as in Celery. */
  get timeLimits(): { hard: number | null; soft: number | null } {
    const [hard, soft] = this.message.headers.timelimit;
    return { hard: hard ?? this.task.options.timeLimit ?? null, soft: soft ?? this.task.options.softTimeLimit ?? null };
  }
  /**
   * Its SUCCESS would be the first state stored for its id, as far as this worker knows: its
   * message's first delivery (not redelivered, not a retry) and no state stored for it before.
   */
  get firstResult(): boolean {
    return !this.stateStored && !this.delivery.redelivered && !this.message.headers.retries;
  }
  isExpired(now: number): boolean {
    return this.message.expires !== null && this.message.expires.getTime() <= now;
  }

  /** Acknowledges once; a failed ack leaves the request unsettled so it can be tried again. */
  ack(): Promise<void> {
    if (this.settled) return RESOLVED;
    return (this.settling ??= this.track(this.delivery.ack()));
  }

  /** Rejects once (see ack). */
  reject(requeue: boolean): Promise<void> {
    if (this.settled) return RESOLVED;
    return (this.settling ??= this.track(this.delivery.reject(requeue)));
  }

  /** Marks the request settled from the outside (the broker settled it, e.g. by dead-lettering). */
  markSettled(): void {
    this.settled = true;
  }

  /** Settled once `settling` resolves; a failure leaves the request to be settled again. */
  private track(settling: Promise<void>): Promise<void> {
    return settling.then(
      () => {
        this.settled = true;
      },
      (err: unknown) => {
        this.settling = null;
        throw err;
      },
    );
  }
}
