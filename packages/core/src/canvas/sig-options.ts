/**
 * A signature's `options` in both directions: celeriac's call options (`taskId`, `softTimeLimit`,
 * a Date `eta`) written under Celery's `apply_async` names (`task_id`, `soft_time_limit`, an ISO
 * `eta`), and a signature's options (ours or a Python client's) read back into what a send needs.
 */
import { validateApplyOptions, type CallOptions } from '../apply-options.js';
import { ConfigError } from '../errors.js';
import { formatIsoUtc, parseIso } from '../protocol/iso-time.js';

/** The call options a signature can carry. */
export type SignatureCallOptions = CallOptions;

const TO_WIRE: Readonly<Record<keyof CallOptions, string>> = {
  countdown: 'countdown',
  eta: 'eta',
  expires: 'expires',
  priority: 'priority',
  queue: 'queue',
  taskId: 'task_id',
  headers: 'headers',
  ignoreResult: 'ignore_result',
  shadow: 'shadow',
  softTimeLimit: 'soft_time_limit',
  timeLimit: 'time_limit',
};

/** Call options under Celery's names, validated as applyAsync() validates them. */
export function toWireOptions(task: string, options: SignatureCallOptions): Record<string, unknown> {
  validateApplyOptions(task, options);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const wire = TO_WIRE[key as keyof CallOptions];
    out[wire] = value instanceof Date ? formatIsoUtc(value) : value;
  }
  return out;
}

/**
 * Options Celery's canvas sets that a send takes apart (ids, links, chord, group); they are read
 * by the canvas itself, not turned into call options.
 */
export const CANVAS_OPTION_KEYS = new Set(['task_id', 'link', 'link_error', 'chord', 'chain', 'group_id', 'group_index', 'root_id', 'parent_id', 'reply_to']);

/**
 * Options a Python client may put in a signature that change nothing here: publishing details
 * kombu handles (retries of the publish, the serializer, which is JSON) and hints for the
 * caller's process. Other unknown options are kept in the signature but not applied; the caller
 * is told which (so a log line can name them).
 */
const HARMLESS = new Set(['retry', 'retry_policy', 'serializer', 'add_to_parent', 'exchange', 'routing_key', 'exchange_type', 'delivery_mode', 'mandatory', 'immediate', 'subtask_type', 'immutable']);

export interface ReadOptions {
  /** The call options to send with. */
  readonly call: CallOptions;
  /** Options present but not applied here (their names), besides the harmless ones. */
  readonly ignored: readonly string[];
}

/** Reads a signature's Celery-named options into call options; throws on a wrong value. */
export function fromWireOptions(task: string, options: Readonly<Record<string, unknown>>): ReadOptions {
  const call: CallOptions = {};
  const ignored: string[] = [];
  const where = `signature ${task}: option`;
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || value === null) continue;
    switch (key) {
      case 'countdown':
      case 'priority':
      case 'queue':
      case 'shadow':
        (call as Record<string, unknown>)[key] = value;
        break;
      case 'task_id':
        call.taskId = value as string;
        break;
      case 'eta':
        call.eta = readDate(value, `${where} "eta"`);
        break;
      case 'expires':
        call.expires = typeof value === 'number' ? value : readDate(value, `${where} "expires"`);
        break;
      case 'headers':
        call.headers = value as Record<string, unknown>;
        break;
      case 'ignore_result':
        call.ignoreResult = value === true;
        break;
      case 'soft_time_limit':
        call.softTimeLimit = value as number;
        break;
      case 'time_limit':
        call.timeLimit = value as number;
        break;
      default:
        if (!CANVAS_OPTION_KEYS.has(key) && !HARMLESS.has(key)) ignored.push(key);
    }
  }
  validateApplyOptions(task, call);
  return { call, ignored };
}

function readDate(value: unknown, where: string): Date {
  if (value instanceof Date) return value;
  const date = typeof value === 'string' ? parseIso(value) : null;
  if (!date) throw new ConfigError(`${where} must be an ISO-8601 timestamp, got ${JSON.stringify(value)}`);
  return date;
}
