/**
 * Every error celeriac throws, in one place. Each has a stable `code` (listed in docs/errors.md; a
 * test keeps that table and this file in sync), readonly fields and an optional `cause`.
 *
 * Three errors are control flow rather than failures, as in Celery: {@link Retry}, {@link Reject}
 * and {@link Ignore}. A task throws them (usually through `ctx.retry()`) to tell the worker what to
 * do with the message; they are never stored as a task's failure.
 */

/** Stable error codes. Append only: users match on these strings. */
export const ErrorCodes = {
  CONFIG: 'CELERIAC_E_CONFIG',
  NOT_IMPLEMENTED: 'CELERIAC_E_NOT_IMPLEMENTED',
  ADAPTER_MISSING: 'CELERIAC_E_ADAPTER_MISSING',
  UNKNOWN_SCHEME: 'CELERIAC_E_UNKNOWN_SCHEME',
  DUPLICATE_TASK: 'CELERIAC_E_DUPLICATE_TASK',
  NOT_REGISTERED: 'CELERIAC_E_NOT_REGISTERED',
  BAD_MESSAGE: 'CELERIAC_E_BAD_MESSAGE',
  BAD_ARGUMENTS: 'CELERIAC_E_BAD_ARGUMENTS',
  NOT_SERIALIZABLE: 'CELERIAC_E_NOT_SERIALIZABLE',
  RESULT_TIMEOUT: 'CELERIAC_E_RESULT_TIMEOUT',
  NO_BACKEND: 'CELERIAC_E_NO_BACKEND',
  TASK_FAILED: 'CELERIAC_E_TASK_FAILED',
  REVOKED: 'CELERIAC_E_REVOKED',
  SOFT_TIME_LIMIT: 'CELERIAC_E_SOFT_TIME_LIMIT',
  TIME_LIMIT: 'CELERIAC_E_TIME_LIMIT',
  MAX_RETRIES: 'CELERIAC_E_MAX_RETRIES',
  RETRY: 'CELERIAC_E_RETRY',
  REJECT: 'CELERIAC_E_REJECT',
  IGNORE: 'CELERIAC_E_IGNORE',
  CLOSED: 'CELERIAC_E_CLOSED',
  STATE: 'CELERIAC_E_STATE',
  UNAVAILABLE: 'CELERIAC_E_UNAVAILABLE',
  NOT_FOUND: 'CELERIAC_E_NOT_FOUND',
  CHORD: 'CELERIAC_E_CHORD',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The base of every celeriac error. */
export class CeleriacError extends Error {
  readonly code: ErrorCode;
  /**
   * The Python module Celery names for this error type in result metadata (`exc_module`). Python
   * clients rebuild the exception from it, so celeriac's own errors map onto Celery's where one exists.
   */
  static excModule = 'celeriac.exceptions';
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option or argument given to celeriac is invalid; the message names it and what was received. */
export class ConfigError extends CeleriacError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CONFIG, message, options);
  }
}

/** A feature that exists in Celery but not yet in celeriac. Names the option or feature. */
export class NotImplementedYetError extends CeleriacError {
  readonly feature: string;
  constructor(feature: string, detail = '') {
    super(ErrorCodes.NOT_IMPLEMENTED, `${feature} is not implemented yet${detail ? `: ${detail}` : ''}`);
    this.feature = feature;
  }
}

/** A broker or backend URL names an adapter package that is not installed. */
export class AdapterMissingError extends CeleriacError {
  readonly packageName: string;
  constructor(url: string, packageName: string, cause: unknown) {
    super(
      ErrorCodes.ADAPTER_MISSING,
      `the URL ${redactUrl(url)} needs the package ${packageName}; install it with: npm install ${packageName}`,
      { cause },
    );
    this.packageName = packageName;
  }
}

/** A broker or backend URL has a scheme no adapter handles. */
export class UnknownSchemeError extends CeleriacError {
  readonly scheme: string;
  constructor(url: string, scheme: string, known: readonly string[]) {
    super(
      ErrorCodes.UNKNOWN_SCHEME,
      `no adapter handles the scheme "${scheme}" in ${redactUrl(url)}; known schemes: ${known.join(', ')}`,
    );
    this.scheme = scheme;
  }
}

/** Two tasks were registered under one name. */
export class DuplicateTaskError extends CeleriacError {
  readonly taskName: string;
  constructor(taskName: string) {
    super(ErrorCodes.DUPLICATE_TASK, `a task named "${taskName}" is already registered`);
    this.taskName = taskName;
  }
}

/** A message names a task this worker does not know (Celery's `NotRegistered`). */
export class NotRegistered extends CeleriacError {
  static override excModule = 'celery.exceptions';
  readonly taskName: string;
  constructor(taskName: string) {
    super(ErrorCodes.NOT_REGISTERED, taskName);
    this.taskName = taskName;
  }
}

/** A broker delivered something that is not a valid Celery task message. */
export class BadMessageError extends CeleriacError {
  /** A short machine-readable reason, e.g. `body-not-json`, `body-not-3-elements`, `missing-header`. */
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.BAD_MESSAGE, message, options);
    this.reason = reason;
  }
}

/**
 * A task was called with arguments it cannot take (too many, a missing one, an unknown keyword).
 * Stored as Python's `TypeError`, which is what Celery stores for the same mistake.
 */
export class BadArgumentsError extends CeleriacError {
  static override excModule = 'builtins';
  readonly taskName: string;
  constructor(taskName: string, message: string) {
    super(ErrorCodes.BAD_ARGUMENTS, `${taskName}() ${message}`);
    this.taskName = taskName;
    this.name = 'TypeError';
  }
}

/** A value cannot be encoded as JSON (a task's arguments or its return value). */
export class NotSerializableError extends CeleriacError {
  static override excModule = 'kombu.exceptions';
  constructor(what: string, options?: { cause?: unknown }) {
    super(ErrorCodes.NOT_SERIALIZABLE, `${what} cannot be encoded as JSON`, options);
    this.name = 'EncodeError';
  }
}

/** `AsyncResult.get()` waited longer than its timeout (Celery's `TimeoutError`). */
export class ResultTimeoutError extends CeleriacError {
  static override excModule = 'celery.exceptions';
  readonly taskId: string;
  readonly timeoutMs: number;
  constructor(taskId: string, timeoutMs: number) {
    super(ErrorCodes.RESULT_TIMEOUT, `task ${taskId} was not ready within ${timeoutMs} ms`);
    this.taskId = taskId;
    this.timeoutMs = timeoutMs;
  }
}

/** Results were asked for but the app has no result backend. */
export class NoBackendError extends CeleriacError {
  constructor(what: string) {
    super(ErrorCodes.NO_BACKEND, `${what} needs a result backend, and the app was created with backend: null`);
  }
}

/** An operation was attempted on something already closed. */
export class ClosedError extends CeleriacError {
  constructor(what: string) {
    super(ErrorCodes.CLOSED, `${what} is closed`);
  }
}

/** A lifecycle method was called in a state that does not allow it. */
export class StateError extends CeleriacError {
  constructor(message: string) {
    super(ErrorCodes.STATE, message);
  }
}

/**
 * A broker or backend server could not be reached in time for an operation that must not wait
 * forever (a publish, a purge). The message says whether the operation may still have happened.
 * Adapters subclass it (e.g. RedisUnavailableError).
 */
export class UnavailableError extends CeleriacError {
  /** What was attempted, e.g. `publish to queue "celery"`. */
  readonly operation: string;
  /** Where: host:port and database (never a password). */
  readonly server: string;
  constructor(operation: string, server: string, detail: string, options?: { cause?: unknown }) {
    super(ErrorCodes.UNAVAILABLE, `${operation} failed: ${server} is unavailable (${detail})`, options);
    this.operation = operation;
    this.server = server;
  }
}

/** Something asked for by id (a dead letter, a queue) does not exist. */
export class NotFoundError extends CeleriacError {
  constructor(what: string) {
    super(ErrorCodes.NOT_FOUND, `${what} does not exist`);
  }
}

/**
 * A chord could not run its body: a header task failed or was revoked (`Dependency <id> raised
 * ValueError('boom')`, Celery's text), or the body could not be sent. Stored as the body's
 * FAILURE, under Celery's name (`celery.exceptions.ChordError`).
 */
export class ChordError extends CeleriacError {
  static override excModule = 'celery.exceptions';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CHORD, message, options);
  }
}

/**
 * The error a task failed with, rebuilt on the client from the stored `{exc_type, exc_message,
 * exc_module}`. `name` is the original type name (`ValueError`, `ServiceError`, ...), `message` its
 * message, and the raw fields stay available.
 */
export class RemoteTaskError extends CeleriacError {
  readonly taskId: string;
  readonly excType: string;
  readonly excModule: string;
  readonly excArgs: readonly unknown[];
  readonly remoteTraceback: string | null;
  constructor(
    taskId: string,
    exc: { excType: string; excModule: string; excArgs: readonly unknown[] },
    traceback: string | null,
  ) {
    super(ErrorCodes.TASK_FAILED, excArgsToMessage(exc.excArgs));
    this.name = exc.excType;
    this.taskId = taskId;
    this.excType = exc.excType;
    this.excModule = exc.excModule;
    this.excArgs = exc.excArgs;
    this.remoteTraceback = traceback;
  }
}

/** The task was revoked or expired (Celery's `TaskRevokedError`). */
export class TaskRevokedError extends CeleriacError {
  static override excModule = 'celery.exceptions';
  constructor(reason: string) {
    super(ErrorCodes.REVOKED, reason);
  }
}

/** The task ran past its soft time limit; its `ctx.signal` was aborted with this error. */
export class SoftTimeLimitExceeded extends CeleriacError {
  static override excModule = 'billiard.exceptions';
  readonly seconds: number;
  constructor(seconds: number) {
    super(ErrorCodes.SOFT_TIME_LIMIT, `soft time limit (${seconds}s) exceeded`);
    this.seconds = seconds;
  }
}

/** The task ran past its hard time limit. */
export class TimeLimitExceeded extends CeleriacError {
  static override excModule = 'billiard.exceptions';
  readonly seconds: number;
  constructor(seconds: number) {
    super(ErrorCodes.TIME_LIMIT, `hard time limit (${seconds}s) exceeded`);
    this.seconds = seconds;
  }
  /** Celery stores `exc_message: [seconds]` for this error. */
  get excArgs(): unknown[] {
    return [this.seconds];
  }
}

/** `ctx.retry()` was called with no `exc` after the last allowed retry. */
export class MaxRetriesExceededError extends CeleriacError {
  static override excModule = 'celery.exceptions';
  constructor(taskName: string, taskId: string, maxRetries: number) {
    super(ErrorCodes.MAX_RETRIES, `can't retry ${taskName}[${taskId}]: max retries (${maxRetries}) exceeded`);
  }
}

/** Control flow: the task asked to be retried. Thrown by `ctx.retry()`; never stored as a failure. */
export class Retry extends CeleriacError {
  readonly countdownSeconds: number;
  readonly eta: Date;
  readonly exc: unknown;
  constructor(eta: Date, countdownSeconds: number, exc: unknown) {
    super(ErrorCodes.RETRY, `retry in ${countdownSeconds}s${exc instanceof Error ? `: ${exc.message}` : ''}`);
    this.eta = eta;
    this.countdownSeconds = countdownSeconds;
    this.exc = exc;
  }
}

/** Control flow: reject the message, putting it back on the queue when `requeue` is true. */
export class Reject extends CeleriacError {
  readonly requeue: boolean;
  constructor(reason = 'rejected', options: { requeue?: boolean } = {}) {
    super(ErrorCodes.REJECT, reason);
    this.requeue = options.requeue ?? false;
  }
}

/** Control flow: acknowledge the message and store nothing. */
export class Ignore extends CeleriacError {
  constructor(reason = 'ignored') {
    super(ErrorCodes.IGNORE, reason);
  }
}

/** Renders Python exception args as one message: one string arg is the message itself. */
export function excArgsToMessage(args: readonly unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  if (args.length === 0) return '';
  return args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ');
}

/** Hides a password in a URL before it goes into a message or a log line. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):([^@/]*)@/, '//$1:***@');
}
