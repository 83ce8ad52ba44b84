/**
 * The `argsrepr` / `kwargsrepr` headers that events, Flower and `celery inspect` show. Celery does
 * not use Python's repr() for them but `celery.utils.saferepr.saferepr(value, 1024)`, a streaming
 * repr whose output differs from repr() (checked against Celery 5.2.6, test/fixtures/celery-5.2):
 *
 * - strings are always single-quoted and only `'` is escaped (as `\'`): backslashes, newlines and
 *   control characters appear raw;
 * - containers nested deeper than 3 levels print as `[...]` / `{...}`;
 * - output stops near 1024 characters: the token crossing the limit is cut at its last space and
 *   gets `...`, then `, ...` and the closing brackets still pending (the one at hand is dropped).
 *
 * Lengths are counted in code points, like Python's len(). Values are taken as the JSON a Python
 * worker would decode: integral numbers below 1e21 are ints, other numbers floats.
 */

export const REPR_MAX_LENGTH = 1024;
const MAX_LEVELS = 3;

class Literal {
  constructor(
    readonly text: string,
    /** Separators (true) are dropped after truncation; brackets (false) are still emitted. */
    readonly truncate: boolean,
    readonly direction: number,
  ) {}
}
class Key {
  constructor(readonly value: string) {}
}
class Quoted {
  constructor(readonly value: string) {}
}
/** An args tuple: `()`, `(1,)`, `(1, 2)`. */
class Tuple {
  constructor(readonly items: readonly unknown[]) {}
}

const DICT_START = new Literal('{', false, +1);
const DICT_KVSEP = new Literal(': ', true, 0);
const DICT_END = new Literal('}', false, -1);
const LIST_START = new Literal('[', false, +1);
const LIST_END = new Literal(']', false, -1);
const LIST_SEP = new Literal(', ', true, 0);
const TUPLE_START = new Literal('(', false, +1);
const TUPLE_END = new Literal(')', false, -1);
const TUPLE_END_SV = new Literal(',)', false, -1);

/** saferepr(value) with Celery's default depth limit; `maxlen` null means no length limit. */
export function pyRepr(value: unknown, maxlen: number | null = null): string {
  return saferepr(value, maxlen);
}

/** saferepr() of an args tuple, as Celery computes `argsrepr`. */
export function argsRepr(args: readonly unknown[]): string {
  // No arguments, the common case: what the token stream below gives, without running it.
  if (args.length === 0) return '()';
  return saferepr(new Tuple(args), REPR_MAX_LENGTH);
}

/** saferepr() of a kwargs dict, as Celery computes `kwargsrepr`. */
export function kwargsRepr(kwargs: Record<string, unknown>): string {
  if (isEmptyPlainObject(kwargs)) return '{}';
  return saferepr(kwargs, REPR_MAX_LENGTH);
}

/** A plain object (or null-prototype one) without keys: its repr is `{}` however it was made. */
function isEmptyPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  for (const _ in value) return false;
  return true;
}

/** A stack of iterators read as one: Python's `chain([start], items, [end], rest)`. */
class TokenStream {
  private readonly frames: Iterator<unknown>[];
  constructor(items: Iterable<unknown>) {
    this.frames = [items[Symbol.iterator]()];
  }
  next(): IteratorResult<unknown> {
    for (let top = this.frames.at(-1); top; top = this.frames.at(-1)) {
      const r = top.next();
      if (!r.done) return r;
      this.frames.pop();
    }
    return { done: true, value: undefined };
  }
  open(start: Literal, items: Iterable<unknown>, end: Literal): void {
    this.frames.push([end][Symbol.iterator](), items[Symbol.iterator](), [start][Symbol.iterator]());
  }
  *rest(): Generator<unknown> {
    for (let r = this.next(); !r.done; r = this.next()) yield r.value;
  }
}

function saferepr(value: unknown, maxlen: number | null): string {
  const out: string[] = [];
  const stream = new TokenStream([value]);
  let budget = maxlen;
  for (const token of tokens(stream)) {
    if (budget !== null && budget <= 0) {
      out.push(', ...');
      for (const rest of stream.rest()) {
        if (rest instanceof Literal && !rest.truncate) out.push(rest.text);
      }
      break;
    }
    let text: string;
    if (token instanceof Literal) text = token.text;
    else if (token instanceof Key) text = saferepr(token.value, budget);
    else if (token instanceof Quoted) text = `'${truncate(token.value, budget).replaceAll("'", "\\'")}'`;
    else text = truncate(token, budget);
    out.push(text);
    if (budget !== null) budget -= codePoints(text);
  }
  return out.join('');
}

/** Celery's reprstream(): turns the stream into literals, keys, quoted strings and scalar text. */
function* tokens(stream: TokenStream): Generator<Literal | Key | Quoted | string> {
  let level = 0;
  for (let r = stream.next(); !r.done; r = stream.next()) {
    let v = r.value;
    if (v instanceof Literal) {
      level += v.direction;
      yield v;
      continue;
    }
    if (v instanceof Key) {
      yield v;
      continue;
    }
    // What JSON.stringify would send, e.g. a Date's ISO string.
    if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON: () => unknown }).toJSON();
    }
    if (v === null || v === undefined) yield 'None';
    else if (v === true) yield 'True';
    else if (v === false) yield 'False';
    else if (typeof v === 'number') yield numberRepr(v);
    else if (typeof v === 'bigint') yield v.toString();
    else if (typeof v === 'string') yield new Quoted(v);
    else if (typeof v === 'object') {
      let start: Literal, end: Literal, items: Iterable<unknown>;
      if (v instanceof Tuple) {
        [start, end, items] = [TUPLE_START, v.items.length === 1 ? TUPLE_END_SV : TUPLE_END, chainList(v.items)];
      } else if (Array.isArray(v)) {
        [start, end, items] = [LIST_START, LIST_END, chainList(v)];
      } else {
        [start, end, items] = [DICT_START, DICT_END, chainDict(v as Record<string, unknown>)];
      }
      if (level >= MAX_LEVELS) yield `${start.text}...${end.text}`;
      else stream.open(start, items, end);
    } else yield String(v);
  }
}

function* chainList(items: readonly unknown[]): Generator<unknown> {
  for (let i = 0; i < items.length; i++) {
    yield items[i];
    if (i < items.length - 1) yield LIST_SEP;
  }
}

function* chainDict(obj: Record<string, unknown>): Generator<unknown> {
  // JSON.stringify drops undefined members, so the worker never sees them.
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined && typeof v !== 'function');
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    yield new Key(k);
    yield DICT_KVSEP;
    yield v;
    if (i < entries.length - 1) yield LIST_SEP;
  }
}

/** celery.utils.text.truncate: cut at maxlen code points, back to the last space, add `...`. */
function truncate(text: string, maxlen: number | null): string {
  if (!maxlen) return text;
  const cps = Array.from(text);
  if (cps.length < maxlen) return text;
  const head = cps.slice(0, maxlen).join('');
  const space = head.lastIndexOf(' ');
  return `${space === -1 ? head : head.slice(0, space)}...`;
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** str() of the number Python decodes from JSON.stringify's output. */
function numberRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  // JSON.stringify writes integral values below 1e21 without a fraction: Python reads an int.
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n === 0 ? 0 : n);
  // A float: the shortest round-trip digits (as in JS), laid out the way Python's repr() does.
  const [mantissa = '', expText = '0'] = n.toExponential().split('e');
  const exp = Number(expText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return `${sign}${int}.${frac || '0'}`;
  }
  const rest = digits.slice(1);
  const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `${sign}${digits[0]}${rest ? `.${rest}` : ''}e${e}`;
}
