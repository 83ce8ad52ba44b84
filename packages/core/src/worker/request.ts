/**
 * One delivered task message, decoded, with what the worker needs to run and report it.
 */
import type { Delivery } from '../broker/broker.js';
import type { TaskMessage } from '../protocol/task-message.js';
import type { RegisteredTask } from '../task.js';

export class TaskRequest {
  /** Set while the task runs; aborting it signals the task (soft limit, cold shutdown). */
  controller: AbortController | null = null;
  /** True once the delivery was acked or rejected. */
  settled = false;
  /** True once the task's outcome is being reported; later state updates are ignored. */
  finished = false;
  constructor(
    readonly delivery: Delivery,
    readonly message: TaskMessage,
    readonly task: RegisteredTask,
  ) {}

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
  isExpired(now: number): boolean {
    return this.message.expires !== null && this.message.expires.getTime() <= now;
  }

  async ack(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.delivery.ack();
  }

  async reject(requeue: boolean): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.delivery.reject(requeue);
  }
}
