/**
 * GroupResult: the results of a group's members, in the order they were given.
 *
 * ```ts
 * const res = await app.apply(group(add.s(1, 1), add.s(2, 2)));
 * await res.join({ timeout: 10_000 }); // [2, 4]
 * await res.completedCount();          // 2
 * ```
 */
import type { ResultBackend } from './backend/result-backend.js';
import type { ResultTuple } from './backend/groups-and-chords.js';
import { ConfigError, NoBackendError, ResultTimeoutError } from './errors.js';
import { READY_STATES, States } from './protocol/result-meta.js';
import { AsyncResult, type GetOptions } from './result.js';

/** A member of a group: a task's result, or a nested group's. */
export type MemberResult = AsyncResult | GroupResult;

export class GroupResult {
  /** The result this group follows in a workflow (a chord's body points back at its header). */
  parent: AsyncResult | GroupResult | null = null;

  constructor(
    /** The group id: the `group` header of each member's message. */
    readonly id: string,
    readonly results: readonly MemberResult[],
    private readonly backendRef: () => ResultBackend | null,
  ) {}

  get length(): number {
    return this.results.length;
  }

  /** How many members have finished successfully (Celery's `completed_count()`). */
  async completedCount(): Promise<number> {
    const states = await this.leafStates();
    return states.filter((s) => s === States.SUCCESS).length;
  }

  /** Whether every member has finished (successfully or not). */
  async ready(): Promise<boolean> {
    return (await this.leafStates()).every((s) => READY_STATES.has(s));
  }

  /** Whether every member finished successfully. */
  async successful(): Promise<boolean> {
    return (await this.leafStates()).every((s) => s === States.SUCCESS);
  }

  /** Whether any member failed. */
  async failed(): Promise<boolean> {
    return (await this.leafStates()).some((s) => s === States.FAILURE);
  }

  /**
   * Waits for every member and returns their results in order; a failed member's error is thrown
   * (unless `propagate: false`, which returns its error data in its place). `timeout` bounds the
   * whole wait.
   */
  async join(options: GetOptions = {}): Promise<unknown[]> {
    const deadline = options.timeout === undefined ? null : Date.now() + options.timeout;
    const out: unknown[] = [];
    for (const member of this.results) {
      const left = deadline === null ? undefined : deadline - Date.now();
      if (left !== undefined && left < 0) throw new ResultTimeoutError(this.id, options.timeout ?? 0);
      const memberOptions: GetOptions = { ...options, ...(left === undefined ? {} : { timeout: Math.max(0, left) }) };
      out.push(member instanceof GroupResult ? await member.join(memberOptions) : await member.get(memberOptions));
    }
    return out;
  }

  /** Same as {@link join}. */
  get(options: GetOptions = {}): Promise<unknown[]> {
    return this.join(options);
  }

  /** Celery's `as_tuple()`: `[[group_id, parent | null], [member tuples…]]`. */
  asTuple(): ResultTuple {
    return [[this.id, tupleOf(this.parent)], this.results.map((r) => (r instanceof GroupResult ? r.asTuple() : ([[r.id, tupleOf(r.parent)], null] as ResultTuple)))];
  }

  /** Saves the group in the backend (Celery's `GroupResult.save()`), so `restore()` finds it by id. */
  async save(options: { expiresIn?: number | null } = {}): Promise<void> {
    const groups = this.backend().groups;
    if (!groups) throw new ConfigError('this result backend cannot save groups');
    await groups.saveGroup(this.id, this.asTuple(), options);
  }

  /** Removes the saved group. */
  async delete(): Promise<void> {
    const groups = this.backend().groups;
    if (!groups) throw new ConfigError('this result backend cannot save groups');
    await groups.deleteGroup(this.id);
  }

  /** A saved group, by id (Celery's `GroupResult.restore()`), or null when none is saved. */
  static async restore(backend: ResultBackend, groupId: string): Promise<GroupResult | null> {
    if (!backend.groups) throw new ConfigError('this result backend cannot save groups');
    const tuple = await backend.groups.restoreGroup(groupId);
    return tuple ? fromTuple(tuple, () => backend) : null;
  }

  private backend(): ResultBackend {
    const backend = this.backendRef();
    if (!backend) throw new NoBackendError(`GroupResult(${this.id})`);
    return backend;
  }

  private async leafStates(): Promise<string[]> {
    const ids = leafIds(this);
    const metas = await this.backend().getMany(ids);
    return metas.map((m) => m?.status ?? States.PENDING);
  }
}

function leafIds(group: GroupResult): string[] {
  return group.results.flatMap((r) => (r instanceof GroupResult ? leafIds(r) : [r.id]));
}

function tupleOf(result: AsyncResult | GroupResult | null): ResultTuple | null {
  if (!result) return null;
  if (result instanceof GroupResult) return result.asTuple();
  return [[result.id, tupleOf(result.parent)], null];
}

/** Rebuilds results from a tuple (nested groups and parents included). */
export function fromTuple(tuple: ResultTuple, backendRef: () => ResultBackend | null): GroupResult {
  const [[id, parent], children] = tuple;
  const members = (children ?? []).map((child) => (child[1] === null ? taskFromTuple(child, backendRef) : fromTuple(child, backendRef)));
  const group = new GroupResult(id, members, backendRef);
  if (parent) group.parent = parent[1] === null ? taskFromTuple(parent, backendRef) : fromTuple(parent, backendRef);
  return group;
}

function taskFromTuple(tuple: ResultTuple, backendRef: () => ResultBackend | null): AsyncResult {
  const [[id, parent]] = tuple;
  const result = new AsyncResult(id, backendRef);
  if (parent) result.parent = parent[1] === null ? taskFromTuple(parent, backendRef) : fromTuple(parent, backendRef);
  return result;
}
