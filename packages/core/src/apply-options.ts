/**
 * Options of one call (`applyAsync`), validated before anything is sent.
 */
import { ConfigError } from './errors.js';
import { checkPriority, checkSeconds } from './task-options.js';

/**
 * Options of one call. Without `kwargs`, `args` must be the task's whole argument list; with
 * `kwargs` (mapped onto the task's declared `params` by the worker), leading `args` may stand alone.
 */
export type ApplyOptions<A extends readonly unknown[] = unknown[]> = CallOptions &
  ({ args?: A; kwargs?: undefined } | { args?: Partial<A>; kwargs: Record<string, unknown> });

/** Everything a call can set besides its arguments. */
export interface CallOptions {
  /** Seconds to wait before running. Converted to an absolute `eta` on the wire. */
  countdown?: number;
  /** Do not run before this instant. */
  eta?: Date;
  /** Seconds from now, or an instant, after which the task is revoked instead of run. */
  expires?: number | Date;
  /** 0–9. */
  priority?: number;
  queue?: string;
  /** A task id of your own (must be unique). @default a random UUID */
  taskId?: string;
  /** Extra message headers (e.g. trace context). */
  headers?: Record<string, unknown>;
  /** Store no result for this call. */
  ignoreResult?: boolean;
  /** Shown instead of the task name in logs and monitors. */
  shadow?: string;
  /** Per-call soft time limit, seconds (sent in the `timelimit` header). */
  softTimeLimit?: number;
  /** Per-call hard time limit, seconds (sent in the `timelimit` header). */
  timeLimit?: number;
}

const KNOWN = new Set([
  'args', 'kwargs', 'countdown', 'eta', 'expires', 'priority', 'queue', 'taskId', 'headers', 'ignoreResult', 'shadow',
  'softTimeLimit', 'timeLimit',
]);

export function validateApplyOptions(taskName: string, o: ApplyOptions<readonly unknown[]>): void {
  // Runs on every send: the texts of the messages are made only for an option that is present.
  for (const key in o) {
    // for...in: no array of keys; an inherited key is not the caller's option (as Object.keys).
    if (!KNOWN.has(key) && Object.hasOwn(o, key)) throw new ConfigError(`${where(taskName)} "${key}" is not a call option (known: ${[...KNOWN].join(', ')})`);
  }
  if (o.args !== undefined && !Array.isArray(o.args)) throw new ConfigError(`${where(taskName)} "args" must be an array, got ${JSON.stringify(o.args)}`);
  if (o.kwargs !== undefined && (typeof o.kwargs !== 'object' || o.kwargs === null || Array.isArray(o.kwargs))) {
    throw new ConfigError(`${where(taskName)} "kwargs" must be an object, got ${JSON.stringify(o.kwargs)}`);
  }
  if (o.countdown !== undefined) {
    checkSeconds(o.countdown, `${where(taskName)} "countdown"`, true);
    if (o.eta !== undefined) throw new ConfigError(`${where(taskName)}s "countdown" and "eta" cannot both be given`);
  }
  if (o.eta !== undefined && !isValidDate(o.eta)) throw new ConfigError(`${where(taskName)} "eta" must be a valid Date, got ${String(o.eta)}`);
  if (o.expires !== undefined && !isValidDate(o.expires)) checkSeconds(o.expires, `${where(taskName)} "expires"`, true);
  if (o.priority !== undefined) checkPriority(o.priority, `${where(taskName)} "priority"`);
  if (o.queue !== undefined && (typeof o.queue !== 'string' || o.queue === '')) throw new ConfigError(`${where(taskName)} "queue" must be a non-empty string, got ${JSON.stringify(o.queue)}`);
  if (o.taskId !== undefined && (typeof o.taskId !== 'string' || o.taskId === '')) throw new ConfigError(`${where(taskName)} "taskId" must be a non-empty string, got ${JSON.stringify(o.taskId)}`);
  if (o.headers !== undefined && (typeof o.headers !== 'object' || o.headers === null || Array.isArray(o.headers))) {
    throw new ConfigError(`${where(taskName)} "headers" must be an object, got ${JSON.stringify(o.headers)}`);
  }
  if (o.softTimeLimit !== undefined) checkSeconds(o.softTimeLimit, `${where(taskName)} "softTimeLimit"`, false);
  if (o.timeLimit !== undefined) checkSeconds(o.timeLimit, `${where(taskName)} "timeLimit"`, false);
}

function where(taskName: string): string {
  return `applyAsync(${taskName}): option`;
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}
