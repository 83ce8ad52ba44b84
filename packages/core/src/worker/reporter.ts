/**
 * How a task's outcome is recorded in the result backend and its message settled, and the other
 * ways a worker disposes of a message (expired, unregistered, dead-lettered). The worker decides
 * when; this file decides what is written and which settlement follows.
 */
import type { App } from '../app.js';
import type { Delivery } from '../broker/broker.js';
import { NotRegistered, TaskRevokedError } from '../errors.js';
import { States } from '../protocol/result-meta.js';
import { serializeException } from '../protocol/exception-codec.js';
import type { TaskMessage } from '../protocol/task-message.js';
import type { TaskRequest } from './request.js';
import { CanvasSteps, hasCanvas } from './canvas-steps.js';
import type { ResultWriter } from './result-writer.js';
import { publishRetry } from './retry-publisher.js';
import type { Outcome } from './task-execution.js';
import type { WorkerStats } from './worker.js';

/** What happens to a finished task's message. */
type Settlement = 'ack' | 'requeue' | { deadLetter: string; code: string };

const RESOLVED = Promise.resolve();

export class Reporter {
  private readonly canvas: CanvasSteps;
  constructor(
    private readonly app: App,
    private readonly writer: ResultWriter,
    private readonly stats: WorkerStats,
    private readonly hostname: string,
  ) {
    this.canvas = new CanvasSteps(app, writer);
  }

  async unregistered(delivery: Delivery, message: TaskMessage): Promise<void> {
    this.app.logger.error(`received unregistered task ${message.headers.task}`, { id: message.headers.id });
    await this.storeFailure(message, delivery.queue, new NotRegistered(message.headers.task), message.headers.ignore_result, false);
    return this.deadLetter(delivery, 'not-registered', `task "${message.headers.task}" is not registered on worker ${this.hostname}`);
  }

  /**
   * How a task ended, recorded, then its message settled. The common case (success, early ack)
   * is one result write; a failed write rejects, and is logged by finished().
   */
  report(request: TaskRequest, outcome: Outcome): Promise<void> {
    if (outcome.kind === 'success' && !request.acksLate && !request.givenBack && !hasCanvas(request.message)) {
      request.finished = true;
      this.stats.succeeded++;
      if (request.ignoreResult) return RESOLVED;
      return this.writer.store(request.message, request.delivery.queue, States.SUCCESS, outcome.value, null, request.firstResult);
    }
    return this.reportAndSettle(request, outcome);
  }

  /**
   * Records how a task ended, then settles its message. Settling happens whatever the recording
   * did: a failed result write is logged, never a reason to leave a message unacknowledged.
   */
  private async reportAndSettle(request: TaskRequest, outcome: Outcome): Promise<void> {
    request.finished = true;
    // A cold shutdown already gave a late-ack message back: its next run reports, not this one.
    if (request.givenBack) return;
    const settlement = await this.record(request, outcome);
    if (!request.acksLate) {
      // Early ack: the message was acknowledged as the task started, so it cannot go back.
      if (settlement !== 'ack') {
        this.app.logger.warn(`task ${request.name}[${request.id}] asked to reject its message, but it was acknowledged before the task ran; use acksLate for Reject to take effect`);
      }
      return;
    }
    if (settlement === 'ack') return request.ack();
    if (settlement === 'requeue') return request.reject(true);
    return this.deadLetter(request.delivery, settlement.code, settlement.deadLetter, request);
  }

  private async record(request: TaskRequest, outcome: Outcome): Promise<Settlement> {
    const { message, delivery } = request;
    const store = (status: string, fn: () => Promise<void>) => (request.ignoreResult ? Promise.resolve() : this.save(request.id, fn, status));
    switch (outcome.kind) {
      case 'success':
        if (hasCanvas(message)) {
          try {
            // Celery applies callbacks and the chain's next step before storing the result.
            await this.canvas.beforeSuccess(message, outcome.value);
          } catch (error) {
            this.app.logger.error(`task ${request.name}[${request.id}]: continuing its workflow failed`, { error });
            return this.record(request, { kind: 'failure', error });
          }
        }
        this.stats.succeeded++;
        await store('SUCCESS', () => this.writer.store(message, delivery.queue, States.SUCCESS, outcome.value, null, request.firstResult));
        if (hasCanvas(message)) await this.workflow(request.message, () => this.canvas.afterStored(message, States.SUCCESS, outcome.value));
        return 'ack';
      case 'failure':
        this.stats.failed++;
        this.app.logger.warn(`task ${request.name}[${request.id}] failed`, { error: outcome.error });
        await this.storeFailure(message, delivery.queue, outcome.error, request.ignoreResult);
        // Celery's task_acks_on_failure_or_timeout = False: the message goes to the dead letters.
        if (request.acksLate && !request.task.options.acksOnFailureOrTimeout) return { deadLetter: describeFailure(outcome.error), code: 'task-failed' };
        return 'ack';
      case 'retry':
        // RETRY first: once the retry is published its next run may store its own state.
        await store('RETRY', () => this.writer.storeError(message, delivery.queue, States.RETRY, outcome.retry.exc ?? outcome.retry));
        try {
          await publishRetry(this.app, request, outcome.retry);
        } catch (err) {
          // The retry could not be sent: a late-ack message goes back as it is; an early-ack one
          // (already acknowledged) fails with the reason rather than vanish.
          this.app.logger.error(`task ${request.name}[${request.id}] could not be retried`, { error: err });
          if (request.acksLate) return 'requeue';
          this.stats.failed++;
          await this.storeFailure(message, delivery.queue, err, request.ignoreResult);
          return 'ack';
        }
        this.stats.retried++;
        return 'ack';
      case 'reject':
        return outcome.reject.requeue ? 'requeue' : { deadLetter: outcome.reject.message, code: 'rejected' };
      case 'ignore':
        return 'ack';
    }
  }

  /** Runs a workflow step after the outcome is stored; a failure is logged with the task it concerns. */
  private async workflow(message: TaskMessage, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.app.logger.error(`task ${message.headers.task}[${message.headers.id}]: its workflow could not continue`, { error });
    }
  }

  /**
   * Stores FAILURE for a task (unless it ignores results) and continues its workflow as a failed
   * step: a chord part is counted (failing the chord), the chain's later steps and the errbacks
   * follow. Every way a task can end in FAILURE goes through here, so none leaves a workflow waiting.
   */
  private async storeFailure(message: TaskMessage, queue: string, error: unknown, ignoreResult: boolean, extended = true): Promise<void> {
    if (!ignoreResult) await this.save(message.headers.id, () => this.writer.storeError(message, queue, States.FAILURE, error, extended), 'FAILURE');
    if (!hasCanvas(message)) return;
    await this.workflow(message, () => this.canvas.afterStored(message, States.FAILURE, serializeException(error)));
    await this.workflow(message, () => this.canvas.afterFailure(message, error));
  }

  /** Runs a result write; a failure is logged (the task's message is settled regardless). */
  async save(taskId: string, write: () => Promise<void>, what = 'state'): Promise<void> {
    try {
      await write();
    } catch (err) {
      this.app.logger.error(`storing the ${what} of task ${taskId} failed`, { error: err });
    }
  }

  async revokeExpired(request: TaskRequest): Promise<void> {
    this.stats.revoked++;
    const error = new TaskRevokedError('expired');
    if (!request.ignoreResult) {
      await this.save(request.id, () => this.writer.storeError(request.message, request.delivery.queue, States.REVOKED, error, false));
    }
    // A revoked chord part still counts (Celery's mark_as_revoked), so the chord ends.
    if (hasCanvas(request.message)) await this.workflow(request.message, () => this.canvas.afterStored(request.message, States.REVOKED, serializeException(error)));
    await request.ack();
  }

  async deadLetter(delivery: Delivery, code: string, reason: string, request?: TaskRequest): Promise<void> {
    this.stats.deadLettered++;
    this.app.logger.warn(`message set aside: ${reason}`, { code, queue: delivery.queue });
    await this.app.broker.deadLetter(delivery, { code, message: reason });
    request?.markSettled();
  }
}

/** `ValueError: the message`, as the reason of a failed task's dead letter. */
function describeFailure(error: unknown): string {
  const exc = serializeException(error);
  const text = Array.isArray(exc.exc_message) ? exc.exc_message.map(String).join(', ') : String(exc.exc_message ?? '');
  return `the task failed: ${exc.exc_type}${text ? `: ${text}` : ''}`;
}
