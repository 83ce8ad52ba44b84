/**
 * Binding a message's positional and keyword arguments onto a task's declared parameter names, the
 * way Python binds a call. A Python client that sends `add.apply_async(kwargs={'x': 1, 'y': 2})`
 * reaches a celeriac task declared with `params: ['x', 'y']` as `(ctx, 1, 2)`.
 *
 * A name ending in `?` is optional (`'y?'`). Mistakes fail the task with a `TypeError`, worded as
 * Python words them.
 */
import { BadArgumentsError, ConfigError } from './errors.js';

export interface ParamSpec {
  readonly name: string;
  readonly optional: boolean;
}

export function parseParams(taskName: string, params: readonly string[]): ParamSpec[] {
  const specs = params.map((raw) => {
    if (typeof raw !== 'string' || !/^[A-Za-z_$][\w$]*\??$/.test(raw)) {
      throw new ConfigError(`task ${taskName}: option "params" must list identifiers (optionally ending in "?"), got ${JSON.stringify(raw)}`);
    }
    return raw.endsWith('?') ? { name: raw.slice(0, -1), optional: true } : { name: raw, optional: false };
  });
  const seen = new Set<string>();
  let optionalSeen = false;
  for (const s of specs) {
    if (seen.has(s.name)) throw new ConfigError(`task ${taskName}: parameter "${s.name}" is listed twice in "params"`);
    seen.add(s.name);
    if (!s.optional && optionalSeen) throw new ConfigError(`task ${taskName}: required parameter "${s.name}" follows an optional one in "params"`);
    optionalSeen ||= s.optional;
  }
  return specs;
}

/** Returns the positional argument list to call the task function with. */
export function bindArguments(
  taskName: string,
  params: readonly ParamSpec[] | undefined,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
): unknown[] {
  const kwNames = Object.keys(kwargs);
  if (!params) {
    if (kwNames.length) {
      throw new BadArgumentsError(taskName, `got keyword arguments (${kwNames.map((k) => `'${k}'`).join(', ')}) but the task declares no "params" to map them onto`);
    }
    return [...args];
  }
  if (args.length > params.length) {
    throw new BadArgumentsError(taskName, `takes ${params.length} positional argument${params.length === 1 ? '' : 's'} but ${args.length} were given`);
  }
  const bound: unknown[] = [...args];
  const filled = new Set<number>(args.map((_, i) => i));
  for (const name of kwNames) {
    const index = params.findIndex((p) => p.name === name);
    if (index < 0) throw new BadArgumentsError(taskName, `got an unexpected keyword argument '${name}'`);
    if (filled.has(index)) throw new BadArgumentsError(taskName, `got multiple values for argument '${name}'`);
    while (bound.length < index) bound.push(undefined);
    bound[index] = kwargs[name];
    filled.add(index);
  }
  const missing = params.filter((p, i) => !p.optional && !filled.has(i)).map((p) => `'${p.name}'`);
  if (missing.length) {
    const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing[missing.length - 1]}`;
    throw new BadArgumentsError(taskName, `missing ${missing.length} required argument${missing.length === 1 ? '' : 's'}: ${list}`);
  }
  return bound;
}
