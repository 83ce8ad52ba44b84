/**
 * Options a task is defined with, validated when it is registered: a wrong option fails at start-up
 * with a message naming it, not when the first message arrives.
 */
import { ConfigError, NotImplementedYetError } from './errors.js';
import { parseParams, type ParamSpec } from './params.js';

/** An error class or an error name to retry on automatically. */
export type ErrorMatcher = string | (abstract new (...args: never[]) => Error);

export interface TaskOptions {
  /** The registered name; Python clients call the task by it (e.g. `proj.add`). */
  name: string;
  /**
   * Parameter names, so keyword arguments from Python map onto positions. A trailing `?` marks one
   * optional. Without `params`, keyword arguments fail the task with a TypeError.
   */
  params?: readonly string[];
  /** Queue the task is sent to when the caller names none. @default the app's defaultQueue */
  queue?: string;
  /** Default message priority, 0–9. @default unset (0) */
  priority?: number;
  /** Retries allowed; `null` for no limit. @default 3 */
  maxRetries?: number | null;
  /** Seconds before a retry when neither a countdown nor backoff gives one. @default 180 */
  defaultRetryDelay?: number;
  /** Exponential backoff for automatic retries: `true` (factor 1) or a factor in seconds. @default false */
  retryBackoff?: boolean | number;
  /** Upper bound of the backoff delay, seconds. @default 600 */
  retryBackoffMax?: number;
  /** Full jitter on the backoff delay. @default true */
  retryJitter?: boolean;
  /** Errors (classes or names) that retry the task automatically. @default [] */
  autoretryFor?: readonly ErrorMatcher[];
  /** Seconds after which `ctx.signal` aborts with SoftTimeLimitExceeded. @default none */
  softTimeLimit?: number;
  /**
   * Seconds after which the task fails with TimeLimitExceeded and its slot is freed. In the async
   * pool the task's code is only signalled (through `ctx.signal`), not killed. @default none
   */
  timeLimit?: number;
  /** Acknowledge after the task finishes instead of before it starts. @default false */
  acksLate?: boolean;
  /**
   * With `acksLate`: whether a task that fails for good (or hits its hard time limit) is
   * acknowledged. false sets its message aside in the broker's dead letters instead, with the
   * error as the reason (code `task-failed`), where it can be listed and replayed; its FAILURE is
   * stored either way. Celery's `task_acks_on_failure_or_timeout`. @default true
   */
  acksOnFailureOrTimeout?: boolean;
  /** Store a STARTED state when the task starts. @default false */
  trackStarted?: boolean;
  /** Store no result. @default false */
  ignoreResult?: boolean;
  /** Default expiry of a call, seconds from sending. @default none */
  expires?: number;
  /** Not implemented yet (rate limits arrive with the execution issue): setting it throws. */
  rateLimit?: string;
}

export interface ResolvedTaskOptions extends TaskOptions {
  readonly paramSpecs: readonly ParamSpec[] | undefined;
  readonly maxRetries: number | null;
  readonly defaultRetryDelay: number;
  readonly retryBackoffMax: number;
  readonly retryJitter: boolean;
  readonly autoretryFor: readonly ErrorMatcher[];
  readonly acksLate: boolean;
  readonly acksOnFailureOrTimeout: boolean;
  readonly trackStarted: boolean;
  readonly ignoreResult: boolean;
}

const KNOWN = new Set<string>([
  'name', 'params', 'queue', 'priority', 'maxRetries', 'defaultRetryDelay', 'retryBackoff', 'retryBackoffMax',
  'retryJitter', 'autoretryFor', 'softTimeLimit', 'timeLimit', 'acksLate', 'acksOnFailureOrTimeout', 'trackStarted', 'ignoreResult',
  'expires', 'rateLimit',
]);

export function resolveTaskOptions(options: TaskOptions): ResolvedTaskOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError(`task options must be an object, got ${String(options)}`);
  const { name } = options;
  if (typeof name !== 'string' || name.trim() === '') throw new ConfigError(`task option "name" must be a non-empty string, got ${JSON.stringify(name)}`);
  const where = `task ${name}: option`;
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new ConfigError(`${where} "${key}" is not a task option (known: ${[...KNOWN].join(', ')})`);
  }
  if (options.rateLimit !== undefined) throw new NotImplementedYetError('task option "rateLimit"', 'per-task rate limits arrive with the execution-control work');
  if (options.queue !== undefined && (typeof options.queue !== 'string' || options.queue === '')) throw new ConfigError(`${where} "queue" must be a non-empty string, got ${JSON.stringify(options.queue)}`);
  if (options.priority !== undefined) checkPriority(options.priority, `${where} "priority"`);
  if (options.maxRetries !== undefined && options.maxRetries !== null) checkInt(options.maxRetries, `${where} "maxRetries"`);
  for (const key of ['defaultRetryDelay', 'retryBackoffMax', 'expires'] as const) {
    if (options[key] !== undefined) checkSeconds(options[key], `${where} "${key}"`, true);
  }
  for (const key of ['softTimeLimit', 'timeLimit'] as const) {
    if (options[key] !== undefined) checkSeconds(options[key], `${where} "${key}"`, false);
  }
  if (options.retryBackoff !== undefined && typeof options.retryBackoff !== 'boolean') checkSeconds(options.retryBackoff, `${where} "retryBackoff"`, false);
  for (const key of ['retryJitter', 'acksLate', 'acksOnFailureOrTimeout', 'trackStarted', 'ignoreResult'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new ConfigError(`${where} "${key}" must be a boolean, got ${JSON.stringify(options[key])}`);
  }
  const autoretryFor = options.autoretryFor ?? [];
  if (!Array.isArray(autoretryFor) || !autoretryFor.every((m) => typeof m === 'string' || typeof m === 'function')) {
    throw new ConfigError(`${where} "autoretryFor" must be a list of error classes or error names`);
  }
  return {
    ...options,
    paramSpecs: options.params ? parseParams(name, options.params) : undefined,
    maxRetries: options.maxRetries === undefined ? 3 : options.maxRetries,
    defaultRetryDelay: options.defaultRetryDelay ?? 180,
    retryBackoffMax: options.retryBackoffMax ?? 600,
    retryJitter: options.retryJitter ?? true,
    autoretryFor,
    acksLate: options.acksLate ?? false,
    acksOnFailureOrTimeout: options.acksOnFailureOrTimeout ?? true,
    trackStarted: options.trackStarted ?? false,
    ignoreResult: options.ignoreResult ?? false,
  };
}

/** True when `err` matches one of the matchers (a class it is an instance of, or its name). */
export function matchesError(err: unknown, matchers: readonly ErrorMatcher[]): boolean {
  return matchers.some((m) =>
    typeof m === 'string' ? err instanceof Error && (err.name === m || err.constructor.name === m) : err instanceof m,
  );
}

export function checkPriority(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 9) {
    throw new ConfigError(`${what} must be an integer from 0 to 9, got ${JSON.stringify(value)}`);
  }
}

export function checkSeconds(value: unknown, what: string, zeroOk: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)) {
    throw new ConfigError(`${what} must be a ${zeroOk ? 'non-negative' : 'positive'} number of seconds, got ${JSON.stringify(value)}`);
  }
}

function checkInt(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ConfigError(`${what} must be a non-negative integer or null, got ${JSON.stringify(value)}`);
  }
}
