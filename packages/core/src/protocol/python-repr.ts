/**
 * Python `repr()` of JSON values, for the `argsrepr` / `kwargsrepr` headers that events, Flower and
 * `celery inspect` show. Celery truncates both to 1024 characters.
 */

export const REPR_MAX_LENGTH = 1024;

/** repr() of one JSON-like value as Python would print it after json decoding. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return numberRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return stringRepr(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${stringRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
  }
  return stringRepr(String(value));
}

/** repr() of an args tuple: `()`, `(1,)`, `(1, 2)`. */
export function argsRepr(args: readonly unknown[]): string {
  const inner = args.map(pyRepr).join(', ');
  return truncate(args.length === 1 ? `(${inner},)` : `(${inner})`);
}

/** repr() of a kwargs dict. */
export function kwargsRepr(kwargs: Record<string, unknown>): string {
  return truncate(pyRepr(kwargs));
}

function truncate(text: string): string {
  return text.length > REPR_MAX_LENGTH ? text.slice(0, REPR_MAX_LENGTH) : text;
}

function numberRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n);
  // Python floats print in the shortest round-trip form, like JS, but with an exponent as e+XX.
  const s = String(n);
  if (s.includes('e')) return s.replace(/e([+-])(\d)$/, 'e$10$2');
  return s;
}

function stringRepr(s: string): string {
  // Python prefers single quotes unless the string contains one and no double quote.
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}
