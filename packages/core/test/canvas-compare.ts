/**
 * How the canvas fixture tests compare celeriac's messages with those captured from Celery 5.2:
 * ids, timestamps and named values are replaced by tokens (numbered in order of appearance, keys
 * sorted), and only what both sides must agree on is kept.
 */

/** A message as the fixtures hold it. */
export interface WireMessage {
  queue: string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  body: unknown;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * `value` with every UUID (also inside strings, e.g. a ChordError's message) and every extra id
 * replaced by `<idN>`, ISO timestamps by `<time>`, and the strings in `named` by their token.
 */
export function canonical(value: unknown, named: Readonly<Record<string, string>> = {}, extraIds: readonly string[] = []): unknown {
  const tokens = new Map<string, string>();
  const token = (id: string) => {
    if (!tokens.has(id)) tokens.set(id, `<id${tokens.size}>`);
    return tokens.get(id)!;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (named[v] !== undefined) return named[v];
      if (extraIds.includes(v)) return token(v);
      if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(v)) return '<time>';
      return v.replace(UUID, token);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, walk((v as Record<string, unknown>)[k])]));
    return v;
  };
  return walk(value);
}

/** What is compared of a message: all but the sender's language and host, and transport fields. */
export function comparable(m: WireMessage): WireMessage {
  const { lang: _lang, origin: _origin, argsrepr, kwargsrepr, ...rest } = m.headers;
  // Python shows tuples where JSON (and so celeriac) has lists, and a list where it kept one (an
  // immutable step's args): the reprs are compared bracket-blind.
  const headers = { ...rest, argsrepr: bracketBlind(argsrepr), kwargsrepr: bracketBlind(kwargsrepr) };
  const { delivery_info: _info, priority, ...properties } = m.properties;
  return { queue: m.queue, headers, properties: { ...properties, ...(priority ? { priority } : {}) }, body: m.body };
}

function bracketBlind(repr: unknown): unknown {
  return typeof repr === 'string' ? repr.replace(/,\)/g, ']').replace(/\(/g, '[').replace(/\)/g, ']') : repr;
}
