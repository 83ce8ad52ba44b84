/**
 * JSON as kombu reads it. kombu 5.3+ wraps datetimes, dates, times, decimals, UUIDs and bytes as
 * `{"__type__": marker, "__value__": value}`; we unwrap those into plain strings (ISO text, decimal
 * text, canonical UUID), which is what kombu 5.2 itself sends, so every version reads what we write.
 */

const MARKERS: Record<string, (v: unknown) => unknown> = {
  datetime: (v) => v,
  date: (v) => v,
  time: (v) => v,
  decimal: (v) => v,
  uuid: (v) => {
    const hex = typeof v === 'object' && v !== null ? (v as { hex?: unknown }).hex : v;
    if (typeof hex !== 'string' || !/^[0-9a-f]{32}$/i.test(hex)) return hex;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  },
  bytes: (v) => v,
  base64: (v) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v),
};

/** JSON.parse that unwraps kombu's type markers. Throws SyntaxError on bad JSON, Error on an unknown marker. */
export function parseKombuJson(text: string): unknown {
  // A reviver makes JSON.parse several times slower; only text that can hold a marker needs one.
  if (!text.includes('"__type__"')) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const keys = Object.keys(value);
    if (keys.length !== 2 || !('__type__' in value) || !('__value__' in value)) return value;
    const marker = (value as { __type__: unknown }).__type__;
    const decode = typeof marker === 'string' ? MARKERS[marker] : undefined;
    if (!decode) throw new Error(`unsupported kombu JSON type marker ${JSON.stringify(marker)}`);
    return decode((value as { __value__: unknown }).__value__);
  });
}
