/**
 * Sends what a plan says (plan.ts): chord sizes first, then every message in one bulk publish,
 * and builds the result handles. Also used by the worker to continue a workflow (a chain's next
 * step, callbacks, a chord's body) with the parent and root ids of the task that finished.
 */
import { randomUUID } from 'node:crypto';
import type { App, CanvasFields, SendCall } from '../app.js';
import { ConfigError } from '../errors.js';
import { GroupResult } from '../group-result.js';
import { AsyncResult } from '../result.js';
import { plan, type PlannedSend, type ResultPlan } from './plan.js';
import { fromWireOptions, toWireOptions } from './sig-options.js';
import { listOption, toSignature, type Signature } from './signature.js';
import type { CallOptions } from '../apply-options.js';

/** Options of `app.apply()`: partial arguments and call options for the whole signature. */
export interface CanvasApplyOptions extends CallOptions {
  /** Prepended to the (first) task's arguments, unless it is immutable. */
  args?: readonly unknown[];
  /** Merged into the (first) task's keyword arguments. */
  kwargs?: Record<string, unknown>;
  /** Applied when it succeeds, with its result prepended (Celery's `apply_async(link=...)`). */
  link?: Signature | readonly Signature[];
  /** Applied when it fails, with the failed task's id (Celery's `apply_async(link_error=...)`). */
  linkError?: Signature | readonly Signature[];
}

/** Where a workflow continues from: the task that finished (worker side). */
export interface Continuation {
  readonly parentId: string;
  readonly rootId: string;
  /** Delivery priority to pass on, when the finished task had one. */
  readonly priority?: number | null;
  /** Extra options (Celery's names), e.g. the rest of a chain. */
  readonly extras?: Readonly<Record<string, unknown>>;
}

/** Applies a signature from a client: sends its messages and returns its result handle. */
export async function applySignature(app: App, sig: Signature, options: CanvasApplyOptions = {}, from?: Continuation): Promise<AsyncResult | GroupResult> {
  const { args = [], kwargs = {}, link, linkError, ...call } = options;
  const extras: Record<string, unknown> = { ...(from?.extras ?? {}) };
  if (link !== undefined) extras['link'] = (Array.isArray(link) ? link : [link]).map((l, i) => toSignature(l, `link ${i}`));
  if (linkError !== undefined) extras['link_error'] = (Array.isArray(linkError) ? linkError : [linkError]).map((l, i) => toSignature(l, `linkError ${i}`));
  for (const [key, value] of Object.entries(toWireOptions(sig.task, call))) extras[key] = value;
  if (from?.rootId) extras['root_id'] = from.rootId;
  const planned = plan(sig, { replyTo: app.oid, newId: randomUUID }, args, kwargs, extras);
  await app.connect();
  if (planned.needsChords) {
    // A backend that refuses chords says so itself (rpc: Celery's NotImplementedError text).
    const chords = app.backend?.chords;
    if (!chords) throw new ConfigError('chords need a result backend that can count them (SQLite or Redis); the app has none that can');
    for (const { groupId, size } of planned.chordSizes) await chords.setSize(groupId, size, { expiresIn: app.resultExpires });
  }
  if (planned.sends.length) await app.sendTasks(planned.sends.map((send) => toCall(app, send, from)));
  return toResult(app, planned.result);
}

/** The message a planned send stands for. */
function toCall(app: App, { sig, chain }: PlannedSend, from?: Continuation): SendCall {
  const { call, ignored } = fromWireOptions(sig.task, sig.options);
  if (ignored.length) app.logger.warn(`signature ${sig.task}: options not applied by celeriac: ${ignored.join(', ')}`);
  if (from?.priority !== undefined && from.priority !== null && call.priority === undefined) call.priority = from.priority;
  const o = sig.options;
  const callbacks = listOption(sig, 'link');
  const errbacks = listOption(sig, 'link_error');
  const canvas: CanvasFields = {
    group: (o['group_id'] as string | undefined) ?? null,
    groupIndex: typeof o['group_index'] === 'number' ? o['group_index'] : null,
    embed: {
      callbacks: callbacks.length ? callbacks : null,
      errbacks: errbacks.length ? errbacks : null,
      chain: chain ? [...chain] : null,
      chord: (o['chord'] as Signature | undefined) ?? null,
    },
    ...(from ? { parentId: from.parentId, rootId: from.rootId } : typeof o['root_id'] === 'string' ? { rootId: o['root_id'], parentId: (o['parent_id'] as string | undefined) ?? null } : {}),
    ...(typeof o['reply_to'] === 'string' ? { replyTo: o['reply_to'] } : {}),
  };
  return { name: sig.task, options: { ...call, args: [...sig.args], kwargs: { ...sig.kwargs } }, canvas };
}

function toResult(app: App, planned: ResultPlan): AsyncResult | GroupResult {
  const backendRef = () => app.backend;
  const build = (p: ResultPlan): AsyncResult | GroupResult => {
    const result = p.kind === 'task' ? new AsyncResult(p.id, backendRef) : new GroupResult(p.id, p.members.map(build), backendRef);
    if (p.parent) result.parent = build(p.parent);
    return result;
  };
  return build(planned);
}


