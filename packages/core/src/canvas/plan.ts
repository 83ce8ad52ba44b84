/**
 * Applying a signature, planned without I/O: which task messages to send, in which order, which
 * chord sizes to record first, and the shape of the result. This is Celery's `apply_async` of
 * each primitive (canvas.py `Signature.freeze`, `_chain.prepare_steps`, `group._prepared`,
 * `_chord.run`) so that messages come out as a Python client's would:
 *
 * - every task gets its id (`options.task_id`) and the client's `reply_to` before anything is
 *   sent ("freezing"), so a chain's later steps, a chord's body and every group member have
 *   known ids;
 * - a chain sends its first task only, with the rest in `embed.chain`, last step first;
 * - a group sends each member with `group` = the group id (nested groups are flattened into it);
 * - a chord records its size, then sends its header members with `group_index` 0..n-1 and
 *   `embed.chord` = the body;
 * - `link` / `link_error` become `embed.callbacks` / `embed.errbacks`.
 *
 * The worker continues the same structures (worker/canvas-steps.ts) with the same functions.
 */
import { ConfigError } from '../errors.js';
import { chord, chunksToGroup } from './primitives.js';
import { chordHeader, clone, isChain, isChord, isGroup, listOption, partial, type ChordSignature, type GroupSignature, type Signature } from './signature.js';

/** One task message to send: a frozen task signature and its `embed.chain`. */
export interface PlannedSend {
  readonly sig: Signature;
  readonly chain: readonly Signature[] | null;
}

/** The result of an applied signature: a task's (a chain's last task, a chord's body), or a group's. */
export type ResultPlan =
  | { readonly kind: 'task'; readonly id: string; readonly parent: ResultPlan | null }
  | { readonly kind: 'group'; readonly id: string; readonly members: readonly ResultPlan[]; readonly parent: ResultPlan | null };

export interface Plan {
  /**
   * Whether the workflow holds a chord, now or later (a chain step): the backend must be able to
   * count chords, checked before anything is sent (Celery's `ensure_chords_allowed`).
   */
  readonly needsChords: boolean;
  /** Chord sizes to record before any message is sent. */
  readonly chordSizes: ReadonlyArray<{ readonly groupId: string; readonly size: number }>;
  readonly sends: readonly PlannedSend[];
  readonly result: ResultPlan;
}

export interface PlanContext {
  /** The client's reply id (`reply_to` of every message). */
  readonly replyTo: string;
  readonly newId: () => string;
}

/** Options applying adds to a signature's own (Celery's names; `chain` and `chord` included). */
export type ApplyExtras = Readonly<Record<string, unknown>>;

/** Plans applying `sig` with `args` prepended and `kwargs` merged (unless it is immutable). */
export function plan(sig: Signature, ctx: PlanContext, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, extras: ApplyExtras = {}): Plan {
  const planner = new Planner(ctx);
  const result = planner.apply(sig, args, kwargs, extras);
  return { needsChords: planner.needsChords || planner.chordSizes.length > 0, chordSizes: planner.chordSizes, sends: planner.sends, result };
}

/** The number of parts a chord header member contributes (Celery's `_chord._descend`). */
export function chordSizeOf(sig: Signature): number {
  if (isGroup(sig)) return sig.kwargs.tasks.reduce((n, t) => n + chordSizeOf(t), 0);
  if (isChain(sig)) {
    for (let i = sig.kwargs.tasks.length - 1; i >= 0; i--) {
      const size = chordSizeOf(sig.kwargs.tasks[i]!);
      if (size > 0) return size;
    }
    return 0;
  }
  if (isChord(sig)) return chordSizeOf(sig.kwargs.body);
  return 1;
}

interface Freeze {
  readonly taskId?: string | undefined;
  readonly groupId?: string | undefined;
  readonly chord?: Signature | undefined;
  readonly groupIndex?: number | undefined;
  readonly rootId?: string | undefined;
  readonly parentId?: string | undefined;
}

class Planner {
  readonly sends: PlannedSend[] = [];
  readonly chordSizes: Array<{ groupId: string; size: number }> = [];
  needsChords = false;

  constructor(private readonly ctx: PlanContext) {}

  apply(sig: Signature, args: readonly unknown[], kwargs: Record<string, unknown>, extras: ApplyExtras): ResultPlan {
    if (sig.task === 'celery.chunks' && !sig.subtask_type) return this.applyGroup(chunksToGroup(sig), args, extras);
    if (isGroup(sig)) return this.applyGroup(sig, args, extras);
    if (isChain(sig)) return this.applyChain(sig, args, kwargs, extras);
    if (isChord(sig)) return this.applyChord(sig, args, extras);
    return this.applyTask(sig, args, kwargs, extras);
  }

  /** Celery's `Signature._merge`: extras override options, except a `group_id` already set. */
  private merge(sig: Signature, extras: ApplyExtras): Record<string, unknown> {
    const options: Record<string, unknown> = { ...sig.options };
    for (const [key, value] of Object.entries(extras)) {
      if (value === undefined || value === null) continue;
      if (key === 'group_id' && 'group_id' in sig.options) continue;
      options[key] = value;
    }
    return options;
  }

  private applyTask(sig: Signature, args: readonly unknown[], kwargs: Record<string, unknown>, extras: ApplyExtras): ResultPlan {
    const { chain, ...rest } = extras;
    const base = args.length || Object.keys(kwargs).length ? partial(sig, args, kwargs) : sig;
    const merged = { ...base, options: this.merge(sig, rest) };
    const frozen = this.freeze(merged, {});
    // An empty list stays one (a chain's last step goes out with `chain: []`, as in Celery).
    this.sends.push({ sig: frozen, chain: Array.isArray(chain) ? (chain as Signature[]) : null });
    return { kind: 'task', id: frozen.options['task_id'] as string, parent: null };
  }

  private applyGroup(sig: GroupSignature, args: readonly unknown[], extras: ApplyExtras): ResultPlan {
    if (extras['link'] !== undefined || sig.options['link'] !== undefined) throw new ConfigError('a group cannot have a link (callback): use a chord');
    if (extras['link_error'] !== undefined) throw new ConfigError('a group cannot have a link_error: set it on its members');
    const options = { ...sig.options, ...definedOnly(extras) };
    const groupId = (options['task_id'] as string | undefined) ?? this.ctx.newId();
    delete options['task_id'];
    options['group_id'] = groupId;
    const rootId = options['root_id'] as string | undefined;
    const members = flattenGroup(sig);
    const chordBody = options['chord'] as Signature | undefined;
    const results: ResultPlan[] = [];
    let size = 0;
    // Nothing here changes a signature in place (freeze and partial make new ones): no copies.
    members.forEach((member, i) => {
      let m = member;
      if (args.length && !m.immutable) m = partial(m, args);
      m = this.freeze(m, { groupId, rootId });
      const memberChord = chordBody ?? (m.options['chord'] as Signature | undefined);
      size += chordSizeOf(m);
      // The size is recorded before the last member goes out (Celery sets it at the last one).
      if (memberChord !== undefined && i === members.length - 1) this.chordSizes.push({ groupId, size });
      const memberExtras = { ...options, task_id: undefined, ...(memberChord !== undefined ? { chord: memberChord } : {}) };
      results.push(this.apply(m, [], {}, memberExtras));
    });
    return { kind: 'group', id: groupId, members: results, parent: null };
  }

  private applyChain(sig: Signature & { kwargs: { tasks: readonly Signature[] } }, args: readonly unknown[], kwargs: Record<string, unknown>, extras: ApplyExtras): ResultPlan {
    const options = { ...sig.options, ...definedOnly(extras) };
    const chainArgs = sig.immutable ? sig.args : [...args, ...sig.args];
    const linkErrors = listOption({ ...sig, options } as Signature, 'link_error');
    const steps = [...sig.kwargs.tasks];
    const frozen: Signature[] = [];
    const results: ResultPlan[] = [];
    let prev: Signature | null = null;
    while (steps.length) {
      let task = clone(steps.pop()!);
      const isFirst = steps.length === 0;
      const isLast = frozen.length === 0;
      if (isGroup(task) && task.kwargs.tasks.length === 1) task = clone(task.kwargs.tasks[0]!);
      if (isFirst) task = partial(task, chainArgs, kwargs);
      if (isChain(task)) {
        steps.push(...task.kwargs.tasks);
        continue;
      }
      if (isGroup(task) && prev) {
        // Celery upgrades group-then-task to a chord; the task already has its id.
        frozen.pop();
        results.pop();
        task = chord(task, prev);
      }
      task = isLast
        ? this.freeze(task, {
            taskId: options['task_id'] as string | undefined,
            groupId: options['group_id'] as string | undefined,
            chord: options['chord'] as Signature | undefined,
            groupIndex: options['group_index'] as number | undefined,
            rootId: options['root_id'] as string | undefined,
          })
        : this.freeze(task, { rootId: options['root_id'] as string | undefined });
      for (const errback of linkErrors) task = appendLinkError(task, errback);
      if (isChord(task)) this.needsChords = true;
      frozen.push(task);
      results.push(resultOfFrozen(task));
      prev = task;
    }
    const link = options['link'];
    if (link !== undefined && frozen.length) {
      // Celery links a chain's callback to its last step.
      let last = frozen[0]!;
      for (const callback of Array.isArray(link) ? (link as Signature[]) : [link as Signature]) last = appendList(last, 'link', callback);
      frozen[0] = last;
    }
    const first = frozen.pop();
    if (!first) throw new ConfigError('an empty chain cannot be applied');
    const existing = Array.isArray(options['chain']) ? (options['chain'] as Signature[]) : [];
    const rest = [...frozen, ...existing];
    // The chain's other options (queue, countdown, ...) go to the task sent now, as in Celery.
    const firstExtras: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) if (!CHAIN_CONSUMED.has(key)) firstExtras[key] = value;
    const applied = this.apply(first, [], {}, { ...firstExtras, chain: rest });
    // A chain's result is its last step's; the first step's own result when it is the only one.
    if (results.length === 1) return applied;
    return linkParents(results);
  }

  private applyChord(sig: ChordSignature, args: readonly unknown[], extras: ApplyExtras): ResultPlan {
    this.needsChords = true;
    const options: Record<string, unknown> = { ...sig.options, ...definedOnly(extras) };
    const bodySig = sig.kwargs.body;
    if (!bodySig) throw new ConfigError('a chord without a body cannot be applied');
    const header = chordHeader(sig);
    const groupId = (header.options['task_id'] as string | undefined) ?? this.ctx.newId();
    const taskId = options['task_id'] as string | undefined;
    delete options['task_id'];
    const rootId = bodySig.options['root_id'] as string | undefined;
    // The chord's options (queue, chain, ...) go to its body, as in Celery's chord.run.
    const body = this.freeze({ ...clone(bodySig), options: { ...bodySig.options, ...options } }, { taskId, rootId });
    delete options['chain'];
    delete options['chord'];
    // Celery's chord.run takes these itself (they are chord_unlock's): they reach the body only.
    for (const key of ['countdown', 'interval', 'max_retries', 'eager']) delete options[key];
    const bodyResult = resultOfFrozen(body);
    const headerArgs = sig.immutable ? sig.args : [...args, ...sig.args];
    const members = flattenGroup(header).map((m, i) => this.freeze(m, { groupId, chord: body, groupIndex: i, rootId }));
    if (members.length === 0) {
      const applied = this.apply(body, [[]], {}, {});
      return withRootParent(applied, { kind: 'group', id: groupId, members: [], parent: null });
    }
    // The header may carry the body it was frozen with earlier (a chord inside a chain): this one wins.
    const frozenHeader: GroupSignature = { ...header, kwargs: { tasks: members }, options: { ...header.options, chord: body } };
    const headerResult = this.applyGroup(frozenHeader, headerArgs, { ...options, task_id: groupId });
    return withRootParent(bodyResult, headerResult);
  }

  /** Celery's `freeze`: ids and reply_to in the options, kept when already there. */
  private freeze(sig: Signature, f: Freeze): Signature {
    const options: Record<string, unknown> = { ...sig.options };
    if (isGroup(sig)) {
      // Celery's group freeze: the group's own id, and its members frozen with the group id
      // given from outside (none for a group standing alone: it is set when the group is applied).
      const gid = (options['task_id'] as string | undefined) ?? f.groupId ?? this.ctx.newId();
      options['task_id'] = gid;
      if (f.groupId) options['group_id'] = f.groupId;
      if (f.chord) options['chord'] = f.chord;
      if (f.groupIndex !== undefined) options['group_index'] = f.groupIndex;
      if (!('root_id' in options)) options['root_id'] = f.rootId ?? null;
      if (!('parent_id' in options)) options['parent_id'] = f.parentId ?? null;
      const tasks = flattenGroup(sig).map((t, i) => this.freeze(clone(t), { groupId: f.groupId, chord: f.chord, rootId: f.rootId, parentId: f.parentId, groupIndex: i }));
      return { ...sig, options, kwargs: { ...sig.kwargs, tasks } };
    }
    if (isChord(sig)) {
      const body = this.freeze(clone(sig.kwargs.body), { taskId: f.taskId, rootId: f.rootId, chord: f.chord, groupId: f.groupId, groupIndex: f.groupIndex });
      const header = this.freeze(clone(chordHeader(sig)), { rootId: f.rootId, parentId: f.parentId, chord: body });
      // The chord's own id is its header's (Celery: `self.id = self.tasks.id`).
      return { ...sig, options: { ...options, task_id: header.options['task_id'] }, kwargs: { ...sig.kwargs, header, body } };
    }
    if (isChain(sig)) {
      // Each step gets its id; the last one what concerns the chain as a whole (its group,
      // chord and place in the group), as Celery's chain freeze does.
      const steps = sig.kwargs.tasks;
      const tasks = steps.map((t, i) => this.freeze(clone(t), i === steps.length - 1 ? f : { rootId: f.rootId }));
      return { ...sig, kwargs: { ...sig.kwargs, tasks } };
    }
    if (options['task_id'] === undefined) options['task_id'] = f.taskId ?? this.ctx.newId();
    if (f.rootId) options['root_id'] = f.rootId;
    if (f.parentId) options['parent_id'] = f.parentId;
    if (options['reply_to'] === undefined) options['reply_to'] = this.ctx.replyTo;
    if (f.groupId && options['group_id'] === undefined) options['group_id'] = f.groupId;
    if (f.chord) options['chord'] = f.chord;
    if (f.groupIndex !== undefined) options['group_index'] = f.groupIndex;
    return { ...sig, options };
  }
}

/** A group's members with nested groups spliced in, in order. */
function flattenGroup(sig: GroupSignature): Signature[] {
  const out: Signature[] = [];
  for (const member of sig.kwargs.tasks) {
    if (isGroup(member)) out.push(...flattenGroup(member));
    else out.push(member);
  }
  return out;
}

function resultOfFrozen(sig: Signature): ResultPlan {
  if (isGroup(sig)) return { kind: 'group', id: sig.options['task_id'] as string, members: sig.kwargs.tasks.map(resultOfFrozen), parent: null };
  // Celery's chord freeze: the body's result, the header group where the body's parents end.
  if (isChord(sig)) return withRootParent(resultOfFrozen(sig.kwargs.body), resultOfFrozen(chordHeader(sig)));
  // A chain's result is its last step's, its parents the steps before (a chord's body can be one).
  if (isChain(sig)) return linkParents(sig.kwargs.tasks.map(resultOfFrozen).reverse());
  return { kind: 'task', id: sig.options['task_id'] as string, parent: null };
}

/**
 * `result` with `parent` set where its parents end (Celery's chord freeze: the header becomes the
 * parent of the body's first result without one, so a chain body keeps its own steps' links).
 */
function withRootParent(result: ResultPlan, parent: ResultPlan): ResultPlan {
  return { ...result, parent: result.parent ? withRootParent(result.parent, parent) : parent } as ResultPlan;
}

/**
 * Chain results, last step first: each result's parents lead to the step before it. A step with
 * parents of its own (a chord: its body, then its header group) gets it where they end, as
 * Celery's `prepare_steps` does.
 */
function linkParents(reversed: readonly ResultPlan[]): ResultPlan {
  let parent: ResultPlan | null = null;
  for (let i = reversed.length - 1; i >= 0; i--) parent = parent ? withRootParent(reversed[i]!, parent) : reversed[i]!;
  return parent!;
}

/** Options a chain uses itself rather than handing them to its first task. */
const CHAIN_CONSUMED = new Set(['task_id', 'group_id', 'chord', 'group_index', 'root_id', 'parent_id', 'link', 'link_error', 'chain']);

function appendLinkError(sig: Signature, errback: Signature): Signature {
  return appendList(sig, 'link_error', errback);
}

function appendList(sig: Signature, key: 'link' | 'link_error', item: Signature): Signature {
  const items = listOption(sig, key);
  if (items.some((s) => JSON.stringify(s) === JSON.stringify(item))) return sig;
  return { ...sig, options: { ...sig.options, [key]: [...items, item] } };
}

function definedOnly(extras: ApplyExtras): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extras)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}
