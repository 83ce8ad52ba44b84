/**
 * AMQP field-table values (message headers) typed so that Python Celery 5.2 reads them right.
 *
 * py-amqp 5.1.1, which Celery 5.2 uses, writes an integer as `I` (signed 32-bit) or, beyond that,
 * `L` (signed 64), and a float as `d`; but it reads `b` as unsigned, `s` as a short string and `l`
 * as unsigned 64 (fixed upstream only later). amqplib picks `b`/`s`/`I`/`l` by magnitude, so a
 * `timelimit` of `[300, 240]` would reach a Python worker as `[',', ...]`. Here every integer that
 * amqplib would write in 8 or 16 bits goes as `I` (`int32`); the rest as amqplib writes them: `I`,
 * `l` beyond 32 bits (read right by py-amqp when not negative), `d` for non-integers.
 *
 * Decoding: amqplib gives plain values, except timestamps and decimals as `{'!': type, value}`;
 * those are turned into a number (seconds since the epoch) and a number, as kombu gives them.
 */

/**
 * A header value with explicit AMQP types for amqplib's encoder, where its own choice would be
 * misread: integers that fit 8 or 16 bits (amqplib would write `b`/`s`) become `int32`, integers
 * beyond 32 bits `int64` (amqplib would write those from 2^51 on as doubles). The rest is left to
 * amqplib, which writes what py-amqp reads right (`I` for 32-bit integers, `d` for non-integers). Values that need no change are returned as they
 * are (no copy): this runs for every header of every message sent.
 */
export function typedField(value: unknown): unknown {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return value;
    if (value >= -0x8000 && value < 0x8000) return { '!': 'int32', value };
    // amqplib writes an integer from 2^51 on as a double: beyond 32 bits, say int64.
    return value >= -0x80000000 && value <= 0x7fffffff ? value : { '!': 'int64', value };
  }
  if (typeof value === 'bigint') return { '!': 'int64', value: Number(value) };
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const typed = typedField(value[i]);
      if (typed !== value[i]) (out ??= value.slice())[i] = typed;
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | null = null;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    const typed = typedField(v);
    if (typed !== v || v === undefined) {
      out ??= { ...(value as Record<string, unknown>) };
      if (v === undefined) delete out[key];
      else out[key] = typed;
    }
  }
  return out ?? value;
}

/** Typed headers for a publish (see the file header). */
export function typedHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return typedField(headers) as Record<string, unknown>;
}

/**
 * A decoded header value as plain data: amqplib's tagged timestamps and decimals become numbers
 * (in place: the decoded table is ours), buffers become strings; the rest is left as it is.
 */
export function plainField(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = plainField(value[i]);
    return value;
  }
  const tagged = value as { '!'?: unknown; value?: unknown };
  if (tagged['!'] === 'timestamp' && typeof tagged.value === 'number') return tagged.value;
  if (tagged['!'] === 'decimal') {
    const d = tagged.value as { places: number; digits: number };
    return d.digits / 10 ** d.places;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) record[key] = plainField(record[key]);
  return record;
}
