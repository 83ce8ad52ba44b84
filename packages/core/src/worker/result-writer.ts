/**
 * Writing a request's state to the result backend, in Celery's extended metadata format.
 */
import type { App } from '../app.js';
import { formatTraceback, serializeException } from '../protocol/exception-codec.js';
import { buildResultMeta, type TaskState } from '../protocol/result-meta.js';
import { NOTIFY_HEADER, type TaskMessage } from '../protocol/task-message.js';

export class ResultWriter {
  constructor(
    private readonly app: App,
    private readonly hostname: string,
  ) {}

  /**
   * Stores a state for a message; does nothing when the app has no backend. `firstWrite`: no
   * state was stored for it before, as far as the worker knows (SetResultOptions.firstWrite).
   */
  store(message: TaskMessage, queue: string, status: TaskState, result: unknown, traceback: string | null = null, firstWrite = false): Promise<void> {
    const backend = this.app.backend;
    if (!backend) return Promise.resolve();
    try {
      const h = message.headers;
      const meta = buildResultMeta({
        taskId: h.id,
        status,
        result,
        traceback,
        groupId: h.group,
        parentId: h.parent_id,
        extended: this.app.resultExtended
          ? { name: h.task, args: message.args, kwargs: message.kwargs, worker: this.hostname, retries: h.retries, queue }
          : undefined,
        now: new Date(),
      });
      const notify = h[NOTIFY_HEADER];
      const p = message.properties;
      return backend.set(h.id, meta, {
        expiresIn: this.app.resultExpires,
        notify: typeof notify === 'string' ? notify : null,
        replyTo: typeof p.reply_to === 'string' && p.reply_to !== '' ? p.reply_to : null,
        correlationId: typeof p.correlation_id === 'string' ? p.correlation_id : h.id,
        firstWrite,
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Stores a state for a task that never ran and has no message here: a workflow step that will
   * not run because an earlier one failed (its frozen signature, whose options hold its id, group
   * and the client's reply_to). Celery writes these without extended fields too.
   */
  storeUnrun(taskId: string, sig: { readonly options?: Readonly<Record<string, unknown>> }, status: TaskState, result: unknown): Promise<void> {
    const backend = this.app.backend;
    if (!backend) return Promise.resolve();
    const o = sig.options ?? {};
    const groupId = typeof o['group_id'] === 'string' ? o['group_id'] : null;
    const meta = buildResultMeta({ taskId, status, result, traceback: null, groupId, parentId: null, now: new Date() });
    const replyTo = o['reply_to'];
    return backend.set(taskId, meta, { expiresIn: this.app.resultExpires, replyTo: typeof replyTo === 'string' ? replyTo : null, correlationId: taskId });
  }

  /** Stores an exception state (FAILURE, RETRY, REVOKED) with the serialized error. */
  storeError(message: TaskMessage, queue: string, status: TaskState, error: unknown, withTraceback = true): Promise<void> {
    return this.store(message, queue, status, serializeException(error), withTraceback ? formatTraceback(error) : null);
  }
}
