/**
 * Result metadata as Celery's key-value backends store it (shared/celery-wire-protocol.md §4.2):
 * `{status, result, traceback, children, date_done, [group_id], [parent_id], name, args, kwargs,
 * worker, retries, queue, task_id}` — the extended form, which `celery result` and Flower read.
 */
import { formatIsoNaiveUtc } from './iso-time.js';

export const States = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
  RETRY: 'RETRY',
  REVOKED: 'REVOKED',
  REJECTED: 'REJECTED',
  IGNORED: 'IGNORED',
} as const;

/** A built-in state, or a custom one such as `PROGRESS`. */
export type TaskState = (typeof States)[keyof typeof States] | (string & {});

export const READY_STATES: ReadonlySet<string> = new Set([States.SUCCESS, States.FAILURE, States.REVOKED]);
export const EXCEPTION_STATES: ReadonlySet<string> = new Set([States.FAILURE, States.RETRY, States.REVOKED]);
export const PROPAGATE_STATES: ReadonlySet<string> = new Set([States.FAILURE, States.REVOKED]);

export interface ResultMeta {
  status: TaskState;
  result: unknown;
  traceback: string | null;
  children: unknown[];
  date_done: string | null;
  group_id?: string;
  parent_id?: string;
  name?: string | null;
  args?: unknown[] | null;
  kwargs?: Record<string, unknown> | null;
  worker?: string | null;
  retries?: number | null;
  queue?: string | null;
  task_id: string;
  [key: string]: unknown;
}

/** What the worker knows about the request, stored with `result_extended`. */
export interface ResultExtended {
  name: string | null;
  args: unknown[] | null;
  kwargs: Record<string, unknown> | null;
  worker: string | null;
  retries: number | null;
  queue: string | null;
}

export interface NewResultMeta {
  taskId: string;
  status: TaskState;
  result: unknown;
  traceback?: string | null;
  children?: unknown[];
  groupId?: string | null;
  parentId?: string | null;
  extended?: ResultExtended;
  now: Date;
}

/** Builds a meta object with Celery's key order; `date_done` is set only for ready states. */
export function buildResultMeta(input: NewResultMeta): ResultMeta {
  // Celery's key order: the five core fields, then group_id/parent_id and the extended fields, then task_id.
  const ordered = {
    status: input.status,
    result: input.result,
    traceback: input.traceback ?? null,
    children: input.children ?? [],
    date_done: READY_STATES.has(input.status) ? formatIsoNaiveUtc(input.now) : null,
  } as ResultMeta;
  if (input.groupId) ordered.group_id = input.groupId;
  if (input.parentId) ordered.parent_id = input.parentId;
  if (input.extended) Object.assign(ordered, input.extended);
  ordered.task_id = input.taskId;
  return ordered;
}

/**
 * Reads stored metadata defensively: any JSON object with a string `status` is accepted. `value`
 * is taken over (a fresh JSON.parse result): one that already has every field in its expected
 * type, as every writer stores it, is returned itself rather than copied.
 */
export function decodeResultMeta(taskId: string, value: unknown): ResultMeta | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (typeof v['status'] !== 'string') return null;
  const traceback = v['traceback'];
  const dateDone = v['date_done'];
  if (
    v['result'] !== undefined &&
    (traceback === null || typeof traceback === 'string') &&
    Array.isArray(v['children']) &&
    (dateDone === null || typeof dateDone === 'string') &&
    typeof v['task_id'] === 'string'
  ) {
    return v as unknown as ResultMeta; // what the copy below would hold, keys in the same order
  }
  return {
    ...v,
    status: v['status'],
    result: v['result'] ?? null,
    traceback: typeof v['traceback'] === 'string' ? v['traceback'] : null,
    children: Array.isArray(v['children']) ? v['children'] : [],
    date_done: typeof v['date_done'] === 'string' ? v['date_done'] : null,
    task_id: typeof v['task_id'] === 'string' ? v['task_id'] : taskId,
  };
}
