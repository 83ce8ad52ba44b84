/**
 * Printing results for people: JSON for values, `Type: message` for a task's error.
 */
import { errorFromMeta, EXCEPTION_STATES, type ResultMeta } from '@celeriac/core';

/** A value as one line of JSON (undefined/null print as `null`). */
export function formatValue(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** The lines `celeriac result` prints for stored metadata. */
export function formatMeta(meta: ResultMeta, withTraceback: boolean): string[] {
  const lines = [`id: ${meta.task_id}`];
  if (typeof meta.name === 'string') lines.push(`task: ${meta.name}`);
  lines.push(`state: ${meta.status}`);
  if (EXCEPTION_STATES.has(meta.status)) {
    const error = errorFromMeta(meta);
    lines.push(`exception: ${error.name}${error.message ? `: ${error.message}` : ''}`);
  } else {
    lines.push(`result: ${formatValue(meta.result)}`);
  }
  if (typeof meta.retries === 'number' && meta.retries > 0) lines.push(`retries: ${meta.retries}`);
  if (meta.date_done) lines.push(`done: ${meta.date_done}`);
  if (withTraceback && meta.traceback) lines.push('traceback:', meta.traceback.trimEnd());
  return lines;
}
