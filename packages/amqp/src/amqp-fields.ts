/**
 * AMQP field-table values (message headers) typed so that Python Celery 5.2 reads them right.
 *
 * py-amqp 5.1.1, which Celery 5.2 uses, writes an integer as `I` (signed 32-bit) or, beyond that,
 * `L` (signed 64), and a float as `d`; but it reads `b` as unsigned, `s` as a short string and `l`
 * as unsigned 64 (fixed upstream only later). amqplib picks `b`/`s`/`I`/`l` by magnitude, so a
 * `timelimit` of `[300, 240]` would reach a Python worker as `[',', ...]`. Here every integer goes
 * as `I` (`int32`), or `l` (`int64`) beyond 32 bits (read right by py-amqp when not negative),
 * every non-integer number as `d`; strings, booleans, null, lists and tables as usual.
 *
 * Decoding: amqplib gives plain values, except timestamps and decimals as `{'!': type, value}`;
 * those are turned into a number (seconds since the epoch) and a number, as kombu gives them.
 */

/** A header value with explicit AMQP types for amqplib's encoder. */
export function typedField(value: unknown): unknown {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { '!': 'double', value };
    return value >= -0x80000000 && value <= 0x7fffffff ? { '!': 'int32', value } : { '!': 'int64', value };
  }
  if (typeof value === 'bigint') return { '!': 'int64', value: Number(value) };
  if (Array.isArray(value)) return value.map(typedField);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = typedField(v);
    return out;
  }
  return value === undefined ? null : value;
}

/** Typed headers for a publish (see the file header). */
export function typedHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return typedField(headers) as Record<string, unknown>;
}

/** A decoded header value as plain data. */
export function plainField(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainField);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const tagged = value as { '!'?: unknown; value?: unknown };
    if (tagged['!'] === 'timestamp' && typeof tagged.value === 'number') return tagged.value;
    if (tagged['!'] === 'decimal') {
      const d = tagged.value as { places: number; digits: number };
      return d.digits / 10 ** d.places;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainField(v);
    return out;
  }
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return value;
}
