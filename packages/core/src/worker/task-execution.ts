/**
 * Running one task: bind its arguments, give it a context, enforce its time limits, and classify
 * how it ended. Storing results and settling the message is the worker's job, not this file's.
 */
import { isThenable, runAsTask } from '../current-task.js';
import { ConfigError, Ignore, MaxRetriesExceededError, Reject, Retry, SoftTimeLimitExceeded, TimeLimitExceeded, NotSerializableError } from '../errors.js';
import { bindArguments } from '../params.js';
import { exponentialBackoff } from '../retry-policy.js';
import type { TaskContext, RetryOptions } from '../task-context.js';
import { checkSeconds, matchesError } from '../task-options.js';
import type { TaskRequest } from './request.js';

export type Outcome =
  | { kind: 'success'; value: unknown }
  | { kind: 'failure'; error: unknown }
  | { kind: 'retry'; retry: Retry }
  | { kind: 'reject'; reject: Reject }
  | { kind: 'ignore' };

export interface ExecutionEnv {
  hostname: string;
  updateState(request: TaskRequest, state: string, meta: unknown): Promise<void>;
}

/**
 * Runs the task and tells how it ended: at once when the task function returned a plain value or
 * threw (no promise, no timer: most of a no-op task's cost is otherwise promise bookkeeping), else
 * once its promise settles or its hard time limit passes.
 */
export function executeTask(request: TaskRequest, env: ExecutionEnv): Outcome | Promise<Outcome> {
  request.running = true;
  const ctx = createContext(request, env);
  let returned: unknown;
  try {
    returned = runTask(request, ctx);
  } catch (error) {
    request.running = false;
    return classifyError(request, ctx, error);
  }
  if (!isThenable(returned)) {
    request.running = false;
    return successOutcome(returned);
  }
  return awaitTask(request, ctx, returned);
}

/** The time limits run from when the task returned its promise (its synchronous part cannot be interrupted anyway). */
async function awaitTask(request: TaskRequest, ctx: TaskContext, returned: PromiseLike<unknown>): Promise<Outcome> {
  const { hard, soft } = request.timeLimits;
  const timers: NodeJS.Timeout[] = [];
  if (soft !== null) timers.push(setTimeout(() => request.abort(new SoftTimeLimitExceeded(soft)), soft * 1000));
  let hardTimeout: Promise<Outcome> | null = null;
  if (hard !== null) {
    hardTimeout = new Promise((resolve) => {
      timers.push(
        setTimeout(() => {
          const error = new TimeLimitExceeded(hard);
          request.abort(error);
          resolve({ kind: 'failure', error });
        }, hard * 1000),
      );
    });
  }
  const running = Promise.resolve(returned).then(
    (value) => successOutcome(value),
    (error: unknown) => classifyError(request, ctx, error),
  );
  try {
    return await (hardTimeout ? Promise.race([running, hardTimeout]) : running);
  } finally {
    for (const t of timers) clearTimeout(t);
    request.running = false;
  }
}

function runTask(request: TaskRequest, ctx: TaskContext): unknown {
  const { message, task } = request;
  const args = bindArguments(task.name, task.options.paramSpecs, message.args, message.kwargs);
  return runAsTask({ id: request.id, rootId: message.headers.root_id }, () => task.invoke(ctx, args));
}

function successOutcome(value: unknown): Outcome {
  try {
    // Results travel as JSON; find out now rather than when the backend writes them.
    JSON.stringify(value === undefined ? null : value);
    return { kind: 'success', value: value === undefined ? null : value };
  } catch (cause) {
    return { kind: 'failure', error: new NotSerializableError('the task result', { cause }) };
  }
}

function classifyError(request: TaskRequest, ctx: TaskContext, error: unknown): Outcome {
  if (error instanceof Retry) return { kind: 'retry', retry: error };
  if (error instanceof Reject) return { kind: 'reject', reject: error };
  if (error instanceof Ignore) return { kind: 'ignore' };
  const opts = request.task.options;
  if (opts.autoretryFor.length && matchesError(error, opts.autoretryFor)) {
    try {
      ctx.retry({ exc: error }); // countdown: backoff when configured, else defaultRetryDelay
    } catch (thrown) {
      if (thrown instanceof Retry) return { kind: 'retry', retry: thrown };
      return { kind: 'failure', error: thrown };
    }
  }
  // After the soft limit fired, whatever the task threw is reported as the limit, as Celery does.
  const reason = request.abortReason;
  if (reason instanceof SoftTimeLimitExceeded) return { kind: 'failure', error: reason };
  return { kind: 'failure', error };
}

function createContext(request: TaskRequest, env: ExecutionEnv): TaskContext {
  return new RunContext(request, env);
}

/**
 * A task run's context. A class rather than an object literal with a getter: one is made per task.
 * The methods are own properties (functions that need no `this`), so `const { retry } = ctx`,
 * `{ ...ctx }` and Object.assign() carry them: three closures cost less than installing accessors
 * for them on each instance (four with Object.defineProperties measured ~6 µs per task on a
 * worker's latency path). `signal` is the one own accessor (its AbortController is made on first
 * read), so a spread copy carries it too.
 */
class RunContext implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly retries: number;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly rootId: string;
  readonly parentId: string | null;
  readonly groupId: string | null;
  readonly eta: Date | null;
  readonly expires: Date | null;
  readonly hostname: string;
  readonly queue: string;
  readonly priority: number;
  readonly redelivered: boolean;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly retry: TaskContext['retry'];
  readonly updateState: TaskContext['updateState'];
  readonly progress: TaskContext['progress'];
  readonly #request: TaskRequest;

  constructor(request: TaskRequest, env: ExecutionEnv) {
    const { message, delivery } = request;
    const h = message.headers;
    this.id = h.id;
    this.name = h.task;
    this.retries = h.retries;
    this.args = message.args;
    this.kwargs = message.kwargs;
    this.rootId = h.root_id;
    this.parentId = h.parent_id;
    this.groupId = h.group;
    this.eta = message.eta;
    this.expires = message.expires;
    this.hostname = env.hostname;
    this.queue = delivery.queue;
    this.priority = delivery.priority;
    this.redelivered = delivery.redelivered;
    this.headers = h;
    this.retry = (options: RetryOptions = {}) => retryTask(request, options);
    this.updateState = (state, meta) => env.updateState(request, state, meta ?? null);
    this.progress = (meta) => env.updateState(request, 'PROGRESS', meta);
    this.#request = request;
    // Own and enumerable (a shared descriptor, nothing allocated per task), as on a plain object.
    Object.defineProperty(this, 'signal', SIGNAL);
  }

  get signal(): AbortSignal {
    return this.#request.signal;
  }
}

const SIGNAL: PropertyDescriptor = { ...Object.getOwnPropertyDescriptor(RunContext.prototype, 'signal')!, enumerable: true };

/** `ctx.retry()`: always throws (see TaskContext.retry). */
function retryTask(request: TaskRequest, options: RetryOptions): never {
  const { message, task } = request;
  const h = message.headers;
  if (options.countdown !== undefined) checkSeconds(options.countdown, 'ctx.retry(): option "countdown"', true);
  if (options.eta !== undefined && !(options.eta instanceof Date && Number.isFinite(options.eta.getTime()))) {
    throw new ConfigError(`ctx.retry(): option "eta" must be a valid Date, got ${String(options.eta)}`);
  }
  const max = options.maxRetries === undefined ? task.options.maxRetries : options.maxRetries;
  if (max !== null && h.retries >= max) {
    if (options.exc !== undefined) throw options.exc;
    throw new MaxRetriesExceededError(task.name, h.id, max);
  }
  const now = Date.now();
  let eta: Date;
  if (options.eta) eta = options.eta;
  else {
    const countdown = options.countdown ?? (task.options.retryBackoff
      ? exponentialBackoff(task.options.retryBackoff === true ? 1 : task.options.retryBackoff, h.retries, task.options.retryBackoffMax, task.options.retryJitter)
      : task.options.defaultRetryDelay);
    eta = new Date(now + countdown * 1000);
  }
  throw new Retry(eta, Math.max(0, (eta.getTime() - now) / 1000), options.exc);
}
