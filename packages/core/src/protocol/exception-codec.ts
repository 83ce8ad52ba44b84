/**
 * Exceptions in result metadata, as Celery's JSON serializer stores them:
 * `{"exc_type": "ValueError", "exc_message": ["bad"], "exc_module": "builtins"}`.
 * JavaScript's built-in errors map onto Python's built-ins so a Python client rebuilds a familiar
 * type; any other error keeps its own name, and its class's static `excModule` when it has one.
 */
import { CeleriacError } from '../errors.js';

export interface SerializedException {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string;
}

const JS_TO_PYTHON: Record<string, string> = {
  Error: 'Exception',
  TypeError: 'TypeError',
  RangeError: 'ValueError',
  SyntaxError: 'SyntaxError',
  ReferenceError: 'NameError',
  URIError: 'ValueError',
  EvalError: 'Exception',
  AggregateError: 'Exception',
};

/** The module used for errors that declare none (a Python client synthesises the class). */
export const DEFAULT_EXC_MODULE = 'celeriac';

export function serializeException(err: unknown): SerializedException {
  if (!(err instanceof Error)) {
    return { exc_type: 'Exception', exc_message: [safeString(err)], exc_module: 'builtins' };
  }
  const args = excArgsOf(err);
  const ctor = err.constructor as { excModule?: unknown; name?: string; prototype?: object };
  const type = typeNameOf(err, ctor);
  // An instance's own excModule (RemoteTaskError carries the original one) beats its class's.
  const own = (err as { excModule?: unknown }).excModule;
  if (typeof own === 'string') return { exc_type: type, exc_message: args, exc_module: own };
  const declared = typeof ctor.excModule === 'string' ? ctor.excModule : undefined;
  // A class that declares excModule (celeriac's own errors, or a user's) is taken at its word.
  if (declared !== undefined && (declared !== CeleriacError.excModule || err instanceof CeleriacError)) {
    return { exc_type: type, exc_message: args, exc_module: declared };
  }
  const python = JS_TO_PYTHON[type];
  if (python !== undefined && ctor.name === type) {
    return { exc_type: python, exc_message: args, exc_module: 'builtins' };
  }
  return { exc_type: type || 'Exception', exc_message: args, exc_module: DEFAULT_EXC_MODULE };
}

/**
 * Python stores the class name. `class ServiceError extends Error {}` inherits `name === 'Error'`
 * from Error.prototype, so unless the error or its own class sets `name`, use the class's name.
 */
function typeNameOf(err: Error, ctor: { name?: string; prototype?: object }): string {
  const explicit =
    Object.hasOwn(err, 'name') || (ctor.prototype !== undefined && Object.hasOwn(ctor.prototype, 'name'));
  return explicit || !ctor.name ? err.name : ctor.name;
}

export function isSerializedException(value: unknown): value is SerializedException {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { exc_type?: unknown }).exc_type === 'string'
  );
}

/** A traceback string for the `traceback` field: the JavaScript stack, or null when there is none. */
export function formatTraceback(err: unknown): string | null {
  if (err instanceof Error && typeof err.stack === 'string') return err.stack;
  return null;
}

/** Normalises `exc_message`, which older senders store as a bare string rather than a list. */
export function excArgsFromMeta(value: SerializedException): unknown[] {
  const m = value.exc_message as unknown;
  if (Array.isArray(m)) return m;
  if (m === undefined || m === null) return [];
  return [m];
}

function excArgsOf(err: Error): unknown[] {
  // An error may carry Python-style args explicitly (e.g. TimeLimitExceeded stores [seconds]).
  const explicit = (err as { excArgs?: unknown }).excArgs;
  if (Array.isArray(explicit)) return explicit;
  return err.message === '' ? [] : [err.message];
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
