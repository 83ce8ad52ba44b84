/**
 * A task: a name, options, and the function the worker runs. Its argument and result types are
 * inferred from the function, so `add.delay(2, 3)` is checked and `get()` returns `number`.
 */
import type { ApplyOptions } from './apply-options.js';
import { signature, type Signature } from './canvas/signature.js';
import type { AsyncResult } from './result.js';
import type { TaskContext } from './task-context.js';
import type { ResolvedTaskOptions } from './task-options.js';

export type TaskFunction<A extends unknown[], R> = (ctx: TaskContext, ...args: A) => R | Promise<R>;

/** What a task needs from its app to send itself. */
export interface TaskSender {
  sendTask<R>(name: string, options: ApplyOptions<readonly unknown[]>, task?: RegisteredTask): Promise<AsyncResult<R>>;
  sendTasks(calls: ReadonlyArray<{ name: string; options?: ApplyOptions<readonly unknown[]>; task?: RegisteredTask }>): Promise<AsyncResult[]>;
}

/**
 * A task as the registry and the worker see it, whatever its argument types: name, options, and a
 * way to run it with already-bound arguments.
 */
export interface RegisteredTask {
  readonly name: string;
  readonly options: ResolvedTaskOptions;
  /** Runs the task function with positional arguments (the worker binds them first). */
  invoke(ctx: TaskContext, args: readonly unknown[]): unknown;
}

export class Task<A extends unknown[] = unknown[], R = unknown> implements RegisteredTask {
  readonly name: string;
  constructor(
    private readonly sender: TaskSender,
    readonly options: ResolvedTaskOptions,
    /** The function the worker runs. */
    readonly fn: TaskFunction<A, R>,
  ) {
    this.name = options.name;
  }

  invoke(ctx: TaskContext, args: readonly unknown[]): unknown {
    return this.fn(ctx, ...(args as A));
  }

  /** Sends the task with positional arguments and default options. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.applyAsync({ args });
  }

  /** Sends the task with call options (countdown, eta, expires, priority, queue, ...). */
  applyAsync(options: ApplyOptions<A> = {}): Promise<AsyncResult<R>> {
    return this.sender.sendTask<R>(this.name, options as ApplyOptions<readonly unknown[]>, this);
  }

  /** A signature of this task with these arguments (Celery's `s()`); the parent's result is prepended when it runs in a workflow. */
  s(...args: unknown[]): Signature {
    return signature(this.name, { args });
  }

  /** An immutable signature (Celery's `si()`): it runs with exactly these arguments. */
  si(...args: unknown[]): Signature {
    return signature(this.name, { args, immutable: true });
  }

  /** Sends many calls of this task at once (one broker round trip where the broker allows). */
  async applyMany(calls: ReadonlyArray<ApplyOptions<A>>): Promise<AsyncResult<R>[]> {
    const sent = await this.sender.sendTasks(calls.map((options) => ({ name: this.name, options: options as ApplyOptions<readonly unknown[]>, task: this })));
    return sent as AsyncResult<R>[];
  }
}
