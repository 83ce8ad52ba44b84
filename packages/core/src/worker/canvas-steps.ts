/**
 * What a worker does for the workflow a finished task belongs to, as a Celery worker does
 * (celery/app/trace.py and backends/base.py), so a workflow continues whichever language runs
 * each step:
 *
 * - success, before the result is stored: each callback (`embed.callbacks`) is applied with the
 *   result prepended (several at once as one group), then the chain's next step (the last of
 *   `embed.chain`) with the result prepended and the rest of the chain;
 * - success or failure, after the result is stored: a chord header task (`embed.chord`) adds
 *   itself to its chord; the one that completes it applies the body with the results in header
 *   order, or, when a part failed, stores the body's FAILURE (ChordError "Dependency <id> raised
 *   ...") and applies the body's error callbacks;
 * - failure: the chain's remaining steps are marked FAILURE with the same error (so waiting on the
 *   chain's last result ends), their chord parts counted, and the task's error callbacks
 *   (`embed.errbacks`) applied as tasks with the failed task's id as their first argument.
 */
import type { App } from '../app.js';
import { applySignature, type Continuation } from '../canvas/send.js';
import { group } from '../canvas/primitives.js';
import { chordHeader, isChain, isChord, isGroup, listOption, toSignature, type Signature } from '../canvas/signature.js';
import { ChordError } from '../errors.js';
import { excArgsFromMeta, isSerializedException, serializeException } from '../protocol/exception-codec.js';
import { pyRepr } from '../protocol/python-repr.js';
import { EXCEPTION_STATES, PROPAGATE_STATES, States, type TaskState } from '../protocol/result-meta.js';
import type { TaskMessage } from '../protocol/task-message.js';
import type { ResultWriter } from './result-writer.js';

/** Whether a message takes part in a workflow (nothing to do otherwise: the common case). */
export function hasCanvas(message: TaskMessage): boolean {
  const e = message.embed;
  return e.callbacks !== null || e.errbacks !== null || e.chain !== null || e.chord !== null;
}

export class CanvasSteps {
  constructor(
    private readonly app: App,
    private readonly writer: ResultWriter,
  ) {}

  /** Callbacks and the chain's next step; applied before the task's SUCCESS is stored. */
  async beforeSuccess(message: TaskMessage, value: unknown): Promise<void> {
    const { callbacks, chain } = message.embed;
    const from = this.continuation(message);
    if (callbacks?.length) {
      const sigs = callbacks.map((c, i) => toSignature(c, `callback ${i} of ${message.headers.task}`));
      if (sigs.length === 1) {
        await applySignature(this.app, sigs[0]!, { args: [value] }, from);
      } else {
        for (const g of sigs.filter(isGroup)) await applySignature(this.app, g, { args: [value] }, from);
        const plain = sigs.filter((s) => !isGroup(s));
        if (plain.length) await applySignature(this.app, group(plain), { args: [value] }, from);
      }
    }
    if (chain?.length) {
      const rest = chain.map((c, i) => toSignature(c, `chain step ${i} of ${message.headers.task}`));
      const next = rest.pop()!;
      await applySignature(this.app, next, { args: [value] }, { ...from, extras: { chain: rest } });
    }
  }

  /** After the task's outcome is stored: its part of a chord, if it is in one. */
  async afterStored(message: TaskMessage, state: TaskState, stored: unknown): Promise<void> {
    const body = message.embed.chord;
    const groupId = message.headers.group;
    if (!body || !groupId) return;
    await this.addChordPart(toSignature(body, `chord body of ${message.headers.task}`), groupId, message.headers.id, message.headers.group_index, state, stored, this.continuation(message));
  }

  /** After a failure is stored: the rest of the chain fails too, and the error callbacks run. */
  async afterFailure(message: TaskMessage, error: unknown, state: TaskState = States.FAILURE): Promise<void> {
    const exc = serializeException(error);
    for (const [i, data] of (message.embed.chain ?? []).entries()) {
      // A step may be a group, a chord or a chain: every task in it fails, so that whatever the
      // caller waits on (the chain's last result, a group's members) ends.
      for (const task of leafTasks(toSignature(data, `chain step ${i} of ${message.headers.task}`))) {
        const id = task.options['task_id'];
        if (typeof id !== 'string') continue;
        await this.writer.storeUnrun(id, task, state, exc);
        const chordBody = task.options['chord'];
        const groupId = task.options['group_id'];
        if (chordBody && typeof groupId === 'string') {
          const index = task.options['group_index'];
          await this.addChordPart(toSignature(chordBody, 'chord body'), groupId, id, typeof index === 'number' ? index : null, state, exc, this.continuation(message));
        }
      }
    }
    const errbacks = message.embed.errbacks;
    if (errbacks?.length) {
      const sigs = errbacks.map((e, i) => toSignature(e, `errback ${i} of ${message.headers.task}`));
      const id = message.headers.id;
      await applySignature(this.app, group(sigs), { args: [id] }, { parentId: id, rootId: message.headers.root_id || id });
    }
  }

  /** Adds a part; the part that completes the chord sends the body (as its child, like Celery's worker). */
  private async addChordPart(body: Signature, groupId: string, taskId: string, groupIndex: number | null, state: TaskState, stored: unknown, from: Continuation): Promise<void> {
    const chords = this.app.backend?.chords;
    if (!chords) {
      this.app.logger.error(`task ${taskId} is part of chord ${groupId}, but this worker's result backend cannot count chords: the chord's body will not run`);
      return;
    }
    const outcome = await chords.addPart({ groupId, taskId, groupIndex, state, result: stored }, { expiresIn: this.app.resultExpires });
    if (!outcome.complete) return;
    const failed = outcome.parts.find((p) => PROPAGATE_STATES.has(p.state));
    if (failed) {
      await this.failChord(body, new ChordError(`Dependency ${failed.taskId} raised ${excRepr(failed.result, failed.state)}`));
      return;
    }
    try {
      await applySignature(this.app, body, { args: [[...outcome.results]] }, from);
    } catch (err) {
      this.app.logger.error(`chord ${groupId}: sending its body failed`, { error: err });
      await this.failChord(body, new ChordError(`Callback error: ${excRepr(serializeException(err), States.FAILURE)}`, { cause: err }));
    }
  }

  /**
   * Celery's chord_error_from_stack: the body's errbacks run (with the id of the task that would
   * have finished it), and the body is marked FAILURE — every task of it, when it is a chain or a
   * group, so waiting on any of them ends.
   */
  private async failChord(body: Signature, error: ChordError): Promise<void> {
    const tasks = leafTasks(body);
    const bodyId = tasks.at(-1)?.options['task_id'];
    const errbacks = [...listOption(body, 'link_error'), ...(tasks.length > 1 ? tasks.flatMap((t) => listOption(t, 'link_error')) : [])];
    const unique = errbacks.filter((e, i) => errbacks.findIndex((o) => JSON.stringify(o) === JSON.stringify(e)) === i);
    if (typeof bodyId === 'string' && unique.length) {
      const sigs = unique.map((e, i) => toSignature(e, `chord body errback ${i}`));
      try {
        await applySignature(this.app, group(sigs), { args: [bodyId] }, { parentId: bodyId, rootId: bodyId });
      } catch (err) {
        this.app.logger.error(`chord body ${body.task}[${bodyId}]: its error callbacks could not be sent`, { error: err });
      }
    }
    const exc = serializeException(error);
    for (const task of tasks) {
      const id = task.options['task_id'];
      if (typeof id === 'string') await this.writer.storeUnrun(id, task, States.FAILURE, exc);
    }
    this.app.logger.warn(`chord body ${body.task}[${String(bodyId)}] not run: ${error.message}`);
  }



  private continuation(message: TaskMessage): Continuation {
    const id = message.headers.id;
    return { parentId: id, rootId: message.headers.root_id || id };
  }
}

/** The task signatures inside a (frozen) signature, in order: a chord's header, then its body. */
function leafTasks(sig: Signature): Signature[] {
  if (isGroup(sig) || isChain(sig)) return sig.kwargs.tasks.flatMap((t) => leafTasks(toSignature(t)));
  if (isChord(sig)) return [...chordHeader(sig).kwargs.tasks.flatMap((t) => leafTasks(toSignature(t))), ...(sig.kwargs.body ? leafTasks(toSignature(sig.kwargs.body)) : [])];
  return [sig];
}

/** Python's repr of a stored exception (`ValueError('boom')`), for ChordError's message. */
function excRepr(result: unknown, state: TaskState): string {
  if (EXCEPTION_STATES.has(state) && isSerializedException(result)) {
    return `${result.exc_type}(${excArgsFromMeta(result).map((a) => pyRepr(a)).join(', ')})`;
  }
  return pyRepr(result);
}
