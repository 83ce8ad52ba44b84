/**
 * The canvas primitives, as functions that build signatures in Celery's format. The composition
 * rules are Celery's (its `|` operator and `chain()`), written out in docs/canvas.md and tested
 * table by table; each rule below names what it does to the structure it is given:
 *
 * | built                          | signature                                                     |
 * |--------------------------------|---------------------------------------------------------------|
 * | chain(a, b, c)                 | celery.chain [a, b, c]                                        |
 * | chain(chain(a, b), c)          | celery.chain [a, b, c] (a chain inside a chain is spliced)    |
 * | chain(a, group(b))             | celery.chain [a, b] (a one-member group is its member)        |
 * | chain(a, group(b, c))          | celery.chain [a, group(b, c)] (the chain ends in a group)     |
 * | chain(a, group(b, c), d)       | celery.chain [a, chord([b, c], d)] (group then task: a chord) |
 * | chain(a, chord(h, b), d)       | celery.chain [a, chord(h, chain(b, d))] (added to the body)   |
 * | chain(a)                       | celery.chain [a]                                              |
 * | group(a, group(b, c))          | celery.group [a, group(b, c)] (flattened when applied)        |
 * | chord([a, b], c), chord(group(a, b), c) | celery.chord, header celery.group [a, b], body c     |
 * | map(t, items), starmap(t, items) | celery.map / celery.starmap, kwargs {task, it}, immutable   |
 * | chunks(t, items, n)            | celery.chunks, kwargs {task, it, n}, immutable                |
 *
 * Nothing else is rewritten: a group stays a group, a chord inside a group stays where it is.
 */
import { ConfigError } from '../errors.js';
import {
  clone,
  isChain,
  isChord,
  isGroup,
  toSignature,
  type ChainSignature,
  type ChordSignature,
  type GroupSignature,
  type Signature,
} from './signature.js';

/**
 * Steps run one after another, each getting the previous one's result prepended. As in Celery, a
 * chain that starts with a group and folds into one step (the group alone, or the chord the group
 * and the following tasks make) is that step itself, not a chain around it.
 */
export function chain(...steps: ReadonlyArray<Signature | readonly Signature[]>): ChainSignature | ChordSignature | GroupSignature {
  const list = flatArgs('chain', steps);
  let tasks: Signature[] = [];
  for (const step of list) tasks = appendToChain(tasks, step);
  const first = list[0];
  if (tasks.length === 1 && first && isGroup(first) && first.kwargs.tasks.length > 1) return tasks[0] as ChordSignature | GroupSignature;
  return composite('celery.chain', 'chain', { tasks }) as ChainSignature;
}

/** Members run in parallel; applying it gives a GroupResult with their results in order. */
export function group(...members: ReadonlyArray<Signature | readonly Signature[]>): GroupSignature {
  const tasks = flatArgs('group', members).map((m) => clone(m));
  return composite('celery.group', 'group', { tasks }) as GroupSignature;
}

/**
 * The header's members run in parallel; when all have finished, the body runs with their
 * results (a list, in header order) prepended to its arguments. A header member that fails fails
 * the chord: the body is not run, its result is a ChordError naming that member, and its error
 * callbacks (`linkError`) run.
 */
export function chord(header: GroupSignature | readonly Signature[], body: Signature): ChordSignature {
  // Celery keeps the header as a list of signatures (a group given is taken apart).
  const members = Array.isArray(header) ? flatArgs('chord', [header as readonly Signature[]]) : isGroup(header as Signature) ? [...(header as GroupSignature).kwargs.tasks] : null;
  if (!members) throw new ConfigError('chord(): the header must be a group or a list of signatures');
  if (!isSignatureLike(body)) throw new ConfigError('chord(): the body must be a signature');
  return composite('celery.chord', 'chord', { kwargs: {}, header: members.map((m) => clone(m)), body: clone(body) }) as ChordSignature;
}

/** `task` called once per item, in one worker, in order (Celery's `map` / `xmap`): a list of results. */
export function map(task: Signature | string, items: readonly unknown[]): Signature {
  return builtin('celery.map', task, items);
}

/** `task` called with each item's elements as its arguments (Celery's `starmap`): a list of results. */
export function starmap(task: Signature | string, items: ReadonlyArray<readonly unknown[]>): Signature {
  for (const [i, item] of items.entries()) {
    if (!Array.isArray(item)) throw new ConfigError(`starmap(): item ${i} must be an array of arguments, got ${JSON.stringify(item)}`);
  }
  return builtin('celery.starmap', task, items);
}

/**
 * `items` split into parts of `n`, each part a `starmap` of `task`, run as a group (Celery's
 * `chunks`): applying it gives a GroupResult whose results are the parts' lists.
 */
export function chunks(task: Signature | string, items: ReadonlyArray<readonly unknown[]>, n: number): Signature {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`chunks(): "n" must be a positive integer, got ${JSON.stringify(n)}`);
  starmap(task, items); // checks the items
  return { ...builtin('celery.chunks', task, items), kwargs: { task: taskSig(task), it: [...items], n } };
}

/** The group a `chunks` signature stands for: one `starmap` per part of `n` items. */
export function chunksToGroup(sig: Signature): GroupSignature {
  const { task, it, n } = sig.kwargs as { task?: unknown; it?: unknown; n?: unknown };
  if (!Array.isArray(it) || typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ConfigError(`${sig.task}: kwargs must be {task, it: [...], n: positive integer}`);
  }
  const target = toSignature(task, `${sig.task} task`);
  const parts: Signature[] = [];
  for (let i = 0; i < it.length; i += n) parts.push(starmap(target, it.slice(i, i + n) as unknown[][]));
  return { ...group(parts), options: { ...sig.options } };
}

function appendToChain(tasks: Signature[], step: Signature): Signature[] {
  let next = clone(step);
  if (isChain(next)) {
    let out = tasks;
    for (const inner of next.kwargs.tasks) out = appendToChain(out, inner);
    return out;
  }
  if (isGroup(next) && next.kwargs.tasks.length === 1) next = clone(next.kwargs.tasks[0]!);
  const last = tasks[tasks.length - 1];
  if (last && isGroup(last) && !isGroup(next)) {
    return [...tasks.slice(0, -1), chord(last, next)];
  }
  if (last && isChord(last) && !isGroup(next) && !isChain(next)) {
    const body = last.kwargs.body;
    const joined = body ? chain(body, next) : next;
    return [...tasks.slice(0, -1), { ...last, kwargs: { ...last.kwargs, body: joined } }];
  }
  return [...tasks, next];
}

function builtin(name: string, task: Signature | string, items: readonly unknown[]): Signature {
  if (!Array.isArray(items)) throw new ConfigError(`${name}: the items must be an array, got ${JSON.stringify(items)}`);
  return { task: name, args: [], kwargs: { task: taskSig(task), it: [...items] }, options: {}, subtask_type: null, immutable: true };
}

function taskSig(task: Signature | string): Signature {
  if (typeof task === 'string') return { task, args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
  if (!isSignatureLike(task)) throw new ConfigError('the task must be a signature or a task name');
  return clone(task);
}

function composite(task: string, type: 'chain' | 'group' | 'chord', kwargs: Record<string, unknown>): Signature {
  return { task, args: [], kwargs, options: {}, subtask_type: type, immutable: false };
}

function flatArgs(what: string, items: ReadonlyArray<Signature | readonly Signature[]>): Signature[] {
  const list = items.length === 1 && Array.isArray(items[0]) ? (items[0] as readonly Signature[]) : (items as readonly Signature[]);
  list.forEach((s, i) => {
    if (!isSignatureLike(s)) throw new ConfigError(`${what}(): member ${i} is not a signature (got ${JSON.stringify(s)})`);
  });
  return [...list];
}

function isSignatureLike(value: unknown): value is Signature {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { task?: unknown }).task === 'string';
}
