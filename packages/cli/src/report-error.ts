/**
 * Turning an error into what the user sees: one line, `celeriac: CODE message`, and a stack (with
 * causes) only when asked for. Returns the exit code.
 */
import { CeleriacError } from '@celeriac/core';
import type { CliContext } from './cli-context.js';

export function reportError(ctx: CliContext, err: unknown): number {
  ctx.err(`celeriac: ${describe(err)}`);
  if (ctx.verbose) {
    for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
      ctx.err(depth === 0 ? String((e as Error).stack ?? e) : `caused by: ${String((e as Error).stack ?? e)}`);
    }
  } else if (hasMoreToShow(err)) {
    ctx.err('(run with --verbose for details)');
  }
  return 1;
}

/** `CELERIAC_E_CONFIG option -c ...`; a task's own error keeps its type: `... TASK_FAILED ValueError: boom`. */
export function describe(err: unknown): string {
  if (err instanceof CeleriacError) {
    const type = err.name === err.constructor.name || err.name === 'CeleriacError' ? '' : `${err.name}: `;
    return `${err.code} ${type}${err.message}`;
  }
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** A foreign error, or a celeriac error whose cause says something its message does not. */
function hasMoreToShow(err: unknown): boolean {
  if (!(err instanceof CeleriacError)) return true;
  const cause = err.cause;
  if (cause === undefined) return false;
  return !(cause instanceof Error && err.message.includes(cause.message));
}
