/**
 * A task: a name, options, and the function the worker runs. Its argument and result types are
 * inferred from the function, so `add.delay(2, 3)` is checked and `get()` returns `number`.
 */
import type { ApplyOptions } from './apply-options.js';
import type { AsyncResult } from './result.js';
import type { TaskContext } from './task-context.js';
import type { ResolvedTaskOptions } from './task-options.js';

export type TaskFunction<A extends unknown[], R> = (ctx: TaskContext, ...args: A) => R | Promise<R>;

/** What a task needs from its app to send itself. */
export interface TaskSender {
  sendTask<R>(name: string, options: ApplyOptions<readonly unknown[]>, task?: AnyTask): Promise<AsyncResult<R>>;
  sendTasks(calls: ReadonlyArray<{ name: string; options?: ApplyOptions<readonly unknown[]>; task?: AnyTask }>): Promise<AsyncResult[]>;
}

export class Task<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  constructor(
    private readonly sender: TaskSender,
    readonly options: ResolvedTaskOptions,
    /** The function the worker runs. */
    readonly fn: TaskFunction<A, R>,
  ) {
    this.name = options.name;
  }

  /** Sends the task with positional arguments and default options. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.applyAsync({ args });
  }

  /** Sends the task with call options (countdown, eta, expires, priority, queue, ...). */
  applyAsync(options: ApplyOptions<A> = {}): Promise<AsyncResult<R>> {
    return this.sender.sendTask<R>(this.name, options as ApplyOptions<readonly unknown[]>, this as AnyTask);
  }

  /** Sends many calls of this task at once (one broker round trip where the broker allows). */
  async applyMany(calls: ReadonlyArray<ApplyOptions<A>>): Promise<AsyncResult<R>[]> {
    const sent = await this.sender.sendTasks(calls.map((options) => ({ name: this.name, options: options as ApplyOptions<readonly unknown[]>, task: this as AnyTask })));
    return sent as AsyncResult<R>[];
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds tasks of every signature
export type AnyTask = Task<any[], unknown>;
