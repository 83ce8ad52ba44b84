/**
 * AsyncResult: a handle on a task's state and result in the result backend.
 */
import { NoBackendError, RemoteTaskError, ResultTimeoutError } from './errors.js';
import type { ResultBackend } from './backend/result-backend.js';
import type { GroupResult } from './group-result.js';
import { waitForReady } from './backend/wait-for-result.js';
import { excArgsFromMeta, isSerializedException } from './protocol/exception-codec.js';
import { EXCEPTION_STATES, PROPAGATE_STATES, READY_STATES, States, type ResultMeta, type TaskState } from './protocol/result-meta.js';

export interface GetOptions {
  /** Milliseconds to wait; throws ResultTimeoutError after. @default wait forever */
  timeout?: number;
  /** Rethrow the task's error when it failed or was revoked. @default true */
  propagate?: boolean;
  /** Stop waiting when this aborts. */
  signal?: AbortSignal;
}

export class AsyncResult<R = unknown> {
  /** The result this one follows in a workflow: a chain's previous step, a chord body's header group. */
  parent: AsyncResult | GroupResult | null = null;

  constructor(
    readonly id: string,
    private readonly backendRef: () => ResultBackend | null,
  ) {}

  private get backend(): ResultBackend {
    const b = this.backendRef();
    if (!b) throw new NoBackendError(`AsyncResult(${this.id})`);
    return b;
  }

  /** The stored metadata, or a PENDING placeholder when nothing is stored. */
  async meta(): Promise<ResultMeta> {
    return (await this.backend.get(this.id)) ?? pendingMeta(this.id);
  }

  async state(): Promise<TaskState> {
    return (await this.meta()).status;
  }

  /** The result, the serialized exception, or a custom state's meta (e.g. PROGRESS details). */
  async info(): Promise<unknown> {
    return (await this.meta()).result;
  }

  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.state());
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === States.SUCCESS;
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === States.FAILURE;
  }

  async traceback(): Promise<string | null> {
    return (await this.meta()).traceback;
  }

  /** Removes the stored result. */
  async forget(): Promise<void> {
    await this.backend.delete(this.id);
  }

  /**
   * Waits until the task is ready and returns its result; a failed or revoked task rethrows its
   * error (a RemoteTaskError whose `name` is the original type, e.g. `ValueError`).
   */
  get(options: GetOptions = {}): Promise<R> {
    // Not an async function (see App.sendTask): the wait is waitForReady's; errors still reject.
    let ready: Promise<ResultMeta | null>;
    try {
      ready = waitForReady(this.backend, this.id, options.timeout, options.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    return ready.then((meta) => this.outcome(meta, options));
  }

  /** What get() resolves with (or throws) once the wait ended with `meta`. */
  private outcome(meta: ResultMeta | null, options: GetOptions): R {
    if (!meta) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new ResultTimeoutError(this.id, options.timeout ?? 0);
    }
    if (PROPAGATE_STATES.has(meta.status) && options.propagate !== false) throw errorFromMeta(meta);
    return meta.result as R;
  }
}

/** The error a failed task's metadata describes. */
export function errorFromMeta(meta: ResultMeta): RemoteTaskError {
  const exc = meta.result;
  if (EXCEPTION_STATES.has(meta.status) && isSerializedException(exc)) {
    return new RemoteTaskError(
      meta.task_id,
      { excType: exc.exc_type, excModule: exc.exc_module ?? 'builtins', excArgs: excArgsFromMeta(exc) },
      meta.traceback,
    );
  }
  return new RemoteTaskError(meta.task_id, { excType: 'Exception', excModule: 'builtins', excArgs: [JSON.stringify(exc)] }, meta.traceback);
}

function pendingMeta(taskId: string): ResultMeta {
  return { status: States.PENDING, result: null, traceback: null, children: [], date_done: null, task_id: taskId };
}
