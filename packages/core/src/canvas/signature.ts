/**
 * Signatures: a task call described as plain data in Celery's format, so it can be stored, sent
 * inside a message and read by a Python worker (shared/celery-wire-protocol.md §1.4):
 *
 * ```json
 * {"task": "proj.add", "args": [2], "kwargs": {}, "options": {"queue": "q1"}, "subtask_type": null, "immutable": false}
 * ```
 *
 * Signatures are values: every function here returns a new one and leaves its input alone
 * (Celery's `set()` and `link()` change the signature in place; here they return a copy).
 * `JSON.parse(JSON.stringify(sig))` is the same signature, and `toSignature()` reads one that
 * came from elsewhere (a Python client, a message), checking its shape.
 *
 * `options` hold `apply_async` options under Celery's names (`task_id`, `queue`, `countdown`,
 * `link_error`, ...): they travel to Python as they are. `withOptions()` takes celeriac's call
 * options (`taskId`, `softTimeLimit`, ...) and writes them under those names (sig-options.ts).
 */
import { ConfigError } from '../errors.js';
import type { SignatureData } from '../protocol/signature-data.js';
import { toWireOptions, type SignatureCallOptions } from './sig-options.js';

export type SubtaskType = 'chain' | 'group' | 'chord';

/** Any signature: a task call, or a chain, group or chord of them. */
export interface Signature extends SignatureData {
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: Readonly<Record<string, unknown>>;
  readonly subtask_type: SubtaskType | null;
  /** When true the parent's result is not prepended to `args`. */
  readonly immutable: boolean;
}

/** `group(...)`: `celery.group` with its members in `kwargs.tasks`. */
export interface GroupSignature extends Signature {
  readonly subtask_type: 'group';
  readonly kwargs: { readonly tasks: readonly Signature[] };
}

/** `chain(...)`: `celery.chain` with its steps in `kwargs.tasks`. */
export interface ChainSignature extends Signature {
  readonly subtask_type: 'chain';
  readonly kwargs: { readonly tasks: readonly Signature[] };
}

/**
 * `chord(header, body)`: `celery.chord` with `kwargs.header` and `kwargs.body`. The header is a
 * list of signatures as built (Celery's form), a `celery.group` signature once frozen or embedded.
 */
export interface ChordSignature extends Signature {
  readonly subtask_type: 'chord';
  readonly kwargs: { readonly kwargs: Readonly<Record<string, unknown>>; readonly header: readonly Signature[] | GroupSignature; readonly body: Signature };
}

/** A chord's header as a group signature, whichever form it has. */
export function chordHeader(sig: ChordSignature): GroupSignature {
  const header = sig.kwargs.header;
  if (Array.isArray(header)) return { task: 'celery.group', args: [], kwargs: { tasks: header as readonly Signature[] }, options: {}, subtask_type: 'group', immutable: false };
  return header as GroupSignature;
}

export interface SignatureInit {
  args?: readonly unknown[];
  kwargs?: Record<string, unknown>;
  /** Call options (celeriac's names, see withOptions()). */
  options?: SignatureCallOptions;
  /** The parent's result is not prepended. @default false */
  immutable?: boolean;
}

/** A signature of the task named `task` (one of ours, or one only a Python worker knows). */
export function signature(task: string | { readonly name: string }, init: SignatureInit = {}): Signature {
  const name = typeof task === 'string' ? task : task.name;
  if (typeof name !== 'string' || name === '') throw new ConfigError(`signature(): the task name must be a non-empty string, got ${JSON.stringify(name)}`);
  const args = init.args ?? [];
  if (!Array.isArray(args)) throw new ConfigError(`signature(${name}): "args" must be an array, got ${JSON.stringify(args)}`);
  const kwargs = init.kwargs ?? {};
  if (!isRecord(kwargs)) throw new ConfigError(`signature(${name}): "kwargs" must be an object, got ${JSON.stringify(kwargs)}`);
  return {
    task: name,
    args: [...args],
    kwargs: { ...kwargs },
    options: init.options ? toWireOptions(name, init.options) : {},
    subtask_type: null,
    immutable: init.immutable ?? false,
  };
}

/**
 * A copy with `args` prepended and `kwargs` merged (Celery's `clone()` / partial application),
 * unless the signature is immutable, whose arguments never change.
 */
export function partial<S extends Signature>(sig: S, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}): S {
  if (sig.immutable) return copy(sig);
  return { ...copy(sig), args: [...args, ...sig.args], kwargs: { ...sig.kwargs, ...kwargs } } as S;
}

/** A deep copy (options, links and nested signatures included). */
export function clone<S extends Signature>(sig: S): S {
  return copy(sig);
}

/** A copy with call options set (celeriac's names: `queue`, `countdown`, `taskId`, ...). */
export function withOptions<S extends Signature>(sig: S, options: SignatureCallOptions): S {
  return { ...copy(sig), options: { ...sig.options, ...toWireOptions(sig.task, options) } } as S;
}

/** A copy that is immutable (`si()`): the parent's result is not prepended. */
export function immutable<S extends Signature>(sig: S, value = true): S {
  return { ...copy(sig), immutable: value } as S;
}

/** A copy with `callback` applied when it succeeds, with its result prepended (Celery's `link`). */
export function link<S extends Signature>(sig: S, callback: Signature): S {
  return appendListOption(sig, 'link', callback);
}

/**
 * A copy with `errback` applied when it fails (Celery's `link_error`): sent as a task with the
 * failed task's id as its first argument.
 */
export function linkError<S extends Signature>(sig: S, errback: Signature): S {
  return appendListOption(sig, 'link_error', errback);
}

/**
 * Reads a signature from data (a message's embed, a Python client's JSON), checking its shape;
 * Celery's minimal `{"task": ..., "args": [...]}` form is filled in. Nested signatures (chain,
 * group and chord members, links) are read too.
 */
export function toSignature(data: unknown, where = 'signature'): Signature {
  if (!isRecord(data)) throw new ConfigError(`${where} must be an object, got ${JSON.stringify(data)}`);
  const task = data['task'];
  if (typeof task !== 'string' || task === '') throw new ConfigError(`${where} has no task name`);
  const args = data['args'] ?? [];
  const kwargs = data['kwargs'] ?? {};
  const options = data['options'] ?? {};
  if (!Array.isArray(args)) throw new ConfigError(`${where} (${task}): "args" must be an array`);
  if (!isRecord(kwargs)) throw new ConfigError(`${where} (${task}): "kwargs" must be an object`);
  if (!isRecord(options)) throw new ConfigError(`${where} (${task}): "options" must be an object`);
  const subtaskType = data['subtask_type'] ?? null;
  if (subtaskType !== null && subtaskType !== 'chain' && subtaskType !== 'group' && subtaskType !== 'chord') {
    throw new ConfigError(`${where} (${task}): unknown subtask_type ${JSON.stringify(subtaskType)}`);
  }
  const sig: Signature = {
    ...data,
    task,
    args,
    kwargs: readNested(task, subtaskType, kwargs, where),
    options: readLinks(options, where),
    subtask_type: subtaskType,
    immutable: data['immutable'] === true,
  };
  return sig;
}

export function isGroup(sig: Signature): sig is GroupSignature {
  return sig.subtask_type === 'group';
}

export function isChain(sig: Signature): sig is ChainSignature {
  return sig.subtask_type === 'chain';
}

export function isChord(sig: Signature): sig is ChordSignature {
  return sig.subtask_type === 'chord';
}

/** The signatures in an option that holds one or a list of them (`link`, `link_error`). */
export function listOption(sig: Signature, key: 'link' | 'link_error'): Signature[] {
  const value = sig.options[key];
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]) as Signature[];
}

function appendListOption<S extends Signature>(sig: S, key: 'link' | 'link_error', value: Signature): S {
  const items = listOption(sig, key);
  const added = copy(toSignature(value, `${key} of ${sig.task}`));
  // Celery's append_to_list_option skips a signature already in the list.
  const same = items.some((s) => JSON.stringify(s) === JSON.stringify(added));
  return { ...copy(sig), options: { ...sig.options, [key]: same ? items.map(copy) : [...items.map(copy), added] } } as S;
}

function readNested(task: string, type: SubtaskType | null, kwargs: Record<string, unknown>, where: string): Record<string, unknown> {
  if (type === 'chain' || type === 'group') {
    const tasks = kwargs['tasks'];
    if (!Array.isArray(tasks)) throw new ConfigError(`${where} (${task}): kwargs.tasks must be a list of signatures`);
    return { ...kwargs, tasks: tasks.map((t, i) => toSignature(t, `${where} ${type} member ${i}`)) };
  }
  if (type === 'chord') {
    const header = kwargs['header'];
    const body = kwargs['body'];
    return {
      ...kwargs,
      header: Array.isArray(header) ? header.map((h, i) => toSignature(h, `${where} chord header ${i}`)) : toSignature(header, `${where} chord header`),
      body: body === null || body === undefined ? null : toSignature(body, `${where} chord body`),
      kwargs: isRecord(kwargs['kwargs']) ? kwargs['kwargs'] : {},
    };
  }
  return kwargs;
}

function readLinks(options: Record<string, unknown>, where: string): Record<string, unknown> {
  const out = { ...options };
  for (const key of ['link', 'link_error'] as const) {
    const value = options[key];
    if (value === undefined || value === null) continue;
    out[key] = (Array.isArray(value) ? value : [value]).map((v, i) => toSignature(v, `${where} ${key} ${i}`));
  }
  if (isRecord(options['chord'])) out['chord'] = toSignature(options['chord'], `${where} chord`);
  return out;
}

function copy<S extends Signature>(sig: S): S {
  return structuredClone(sig);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
