/**
 * The frames of a small `basic.publish` (method, content header, body), encoded in one pass into
 * one buffer, byte for byte what amqplib 2.x writes. Installed on a connection by fast-publish.ts,
 * which checks these bytes against amqplib's own first.
 *
 * Why: amqplib encodes a message's header table with a `Buffer.byteLength` and a `buffer.write`
 * per key and per value, a one-character `buffer.write` per type tag and a fresh closure per
 * value; for Celery's 16-entry task headers that is the largest single cost of sending a task
 * (about a quarter of the producer's CPU). Here keys and short strings are copied a character at
 * a time (they are almost always ASCII), numbers with Node's own `write*` methods, and the three
 * frames go into the one chunk amqplib would have assembled from three buffers of its own.
 *
 * Anything this encoder does not handle itself (a message of 2 KiB or more, which amqplib writes
 * as several chunks; an exotic field type; a value amqplib would refuse, so that its error is the
 * one raised) is declined (null), and amqplib encodes it unchanged.
 */
/** defs.BasicPublish and defs.BasicProperties of amqplib (class 60, method 40). */
export const BASIC_PUBLISH = 3932200;
export const BASIC_PROPERTIES = 60;
/** amqplib's connection.js writes a publish below this size as one chunk, larger ones in parts. */
const SINGLE_CHUNK_THRESHOLD = 2048;
const FRAME_END = 206;

/** The publish fields and properties amqplib's `Args.publish` builds (one object for both). */
export interface PublishFields {
  readonly exchange?: unknown;
  readonly routingKey?: unknown;
  readonly mandatory?: unknown;
  readonly immediate?: unknown;
  readonly ticket?: unknown;
  readonly [property: string]: unknown;
}

/** Where the frames are assembled; a publish that does not fit is left to amqplib. */
const scratch = Buffer.allocUnsafe(SINGLE_CHUNK_THRESHOLD);
/** Thrown inside the encoder to say "let amqplib do this one". */
const DECLINE = Symbol('decline');
let at = 0;

function room(bytes: number): void {
  if (at + bytes > SINGLE_CHUNK_THRESHOLD) throw DECLINE;
}

/** A string's UTF-8 bytes at `at`; returns their count. */
function putString(s: string): number {
  const n = s.length;
  if (n <= 64) {
    room(n);
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      scratch[at + i] = c;
    }
    if (i === n) {
      at += n;
      return n;
    }
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  room(bytes);
  scratch.write(s, at, bytes, 'utf8');
  at += bytes;
  return bytes;
}

/** A short string (length octet, then the bytes); declines past 255 bytes, as amqplib refuses those. */
function putShortString(s: string): void {
  const lengthAt = at;
  room(1);
  at++;
  const bytes = putString(s);
  if (bytes > 255) throw DECLINE;
  scratch[lengthAt] = bytes;
}

function putTag(tag: number, bytes: number): void {
  room(1 + bytes);
  scratch[at++] = tag;
}

/**
 * amqplib's codec.js `encodeTable`: every enumerable key, own or inherited, but undefined values.
 *
 * amqplib's `Args.publish` hands over the headers as `Object.create(options.headers)` (with CC and
 * BCC set on it when given), and a for-in over an object whose prototype has the enumerable keys
 * takes V8's slow path (keys collected afresh each time, each read a lookup up the chain): that,
 * more than the writes, made amqplib's encoder slow (a Celery header table: about 6 µs of 8 in a
 * micro-benchmark). With no own keys, a for-in over the prototype visits the same keys in the same
 * order (the chain beyond it is the same), at the speed of a plain object.
 */
function putTable(table: Record<string, unknown>): void {
  const proto = Object.getPrototypeOf(table) as Record<string, unknown> | null;
  if (proto !== null && proto !== Object.prototype && Object.getOwnPropertyNames(table).length === 0) table = proto;
  room(4);
  const start = at;
  at += 4;
  for (const key in table) {
    const value = table[key];
    if (value === undefined) continue;
    putShortString(key);
    putValue(value);
  }
  scratch.writeUInt32BE(at - start - 4, start);
}

function putArray(values: readonly unknown[]): void {
  room(4);
  const start = at;
  at += 4;
  for (let i = 0; i < values.length; i++) putValue(values[i]);
  scratch.writeUInt32BE(at - start - 4, start);
}

/** codec.js `isFloatingPoint`: what amqplib writes as a double rather than an integer. */
function isFloatingPoint(n: number): boolean {
  return n >= 0x8000000000000000 || (Math.abs(n) < 0x4000000000000 && Math.floor(n) !== n);
}

/** amqplib's codec.js `encodeFieldValue`, for the types it can pick or be told. */
function putValue(value: unknown): void {
  let type: string = typeof value;
  let val = value;
  if (value && type === 'object' && Object.hasOwn(value, '!')) {
    val = (value as { value: unknown }).value;
    type = String((value as { '!': unknown })['!']);
  }
  if (type === 'number') {
    const n = val as number;
    if (isFloatingPoint(n)) type = 'double';
    else if (n < 128 && n >= -128) type = 'byte';
    else if (n >= -0x8000 && n < 0x8000) type = 'short';
    else if (n >= -0x80000000 && n < 0x80000000) type = 'int';
    else type = 'long';
  }
  switch (type) {
    case 'string': {
      if (typeof val !== 'string') throw DECLINE;
      putTag(0x53, 4); // S
      const lengthAt = at;
      at += 4;
      scratch.writeUInt32BE(putString(val), lengthAt);
      return;
    }
    case 'object':
      if (val === null) return putTag(0x56, 0); // V
      if (Array.isArray(val)) {
        putTag(0x41, 0); // A
        return putArray(val);
      }
      if (Buffer.isBuffer(val)) {
        putTag(0x78, 4 + val.length); // x
        scratch.writeUInt32BE(val.length, at);
        at += 4;
        at += val.copy(scratch, at);
        return;
      }
      if (typeof val !== 'object') throw DECLINE;
      putTag(0x46, 0); // F
      return putTable(val as Record<string, unknown>);
    case 'boolean':
      putTag(0x74, 1); // t
      scratch[at++] = val ? 1 : 0;
      return;
    case 'double':
    case 'float64':
      putTag(0x64, 8); // d
      at = scratch.writeDoubleBE(val as number, at);
      return;
    case 'byte':
    case 'int8':
      putTag(0x62, 1); // b
      at = scratch.writeInt8(val as number, at);
      return;
    case 'short':
    case 'int16':
      putTag(0x73, 2); // s
      at = scratch.writeInt16BE(val as number, at);
      return;
    case 'int':
    case 'int32':
      putTag(0x49, 4); // I
      at = scratch.writeInt32BE(val as number, at);
      return;
    case 'long':
    case 'int64':
      putTag(0x6c, 8); // l
      at = scratch.writeBigInt64BE(BigInt(val as number), at);
      return;
    default:
      // Unsigned, timestamp, float, decimal, or a type amqplib refuses: amqplib's own encoder.
      throw DECLINE;
  }
}

/** Frame type, channel, and room for the payload size (filled in by endFrame). */
function startFrame(type: number, channel: number): number {
  const start = at;
  room(7);
  scratch[at] = type;
  scratch.writeUInt16BE(channel, at + 1);
  at += 7;
  return start;
}

function endFrame(start: number): void {
  room(1);
  scratch.writeUInt32BE(at - start - 7, start + 3);
  scratch[at++] = FRAME_END;
}

/** A shortstr property: declined when it is not a string amqplib would take. */
function shortProperty(value: unknown, flag: number): number {
  if (typeof value !== 'string') throw DECLINE;
  putShortString(value);
  return flag;
}

function octetProperty(value: unknown, flag: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) throw DECLINE;
  room(1);
  scratch[at++] = value;
  return flag;
}

/**
 * The three frames of a publish as one buffer, or null where amqplib should encode it (see the
 * file header). `fields` is amqplib's `Args.publish` object: method fields and properties.
 */
export function encodePublish(channel: number, fields: PublishFields, props: PublishFields, content: Buffer): Buffer | null {
  at = 0;
  try {
    // Method frame: basic.publish (defs.js encodeBasicPublish).
    let start = startFrame(1, channel);
    room(6);
    scratch.writeUInt32BE(BASIC_PUBLISH, at);
    at += 4;
    const ticket = fields.ticket === undefined ? 0 : fields.ticket;
    if (typeof ticket !== 'number' || !Number.isInteger(ticket) || ticket < 0 || ticket > 0xffff) throw DECLINE;
    at = scratch.writeUInt16BE(ticket, at);
    const exchange = fields.exchange === undefined ? '' : fields.exchange;
    const routingKey = fields.routingKey === undefined ? '' : fields.routingKey;
    if (typeof exchange !== 'string' || typeof routingKey !== 'string') throw DECLINE;
    putShortString(exchange);
    putShortString(routingKey);
    room(1);
    scratch[at++] = (fields.mandatory ? 1 : 0) + (fields.immediate ? 2 : 0);
    endFrame(start);

    // Content header frame: class 60, weight 0, body size, flags, properties (encodeBasicProperties).
    start = startFrame(2, channel);
    room(14);
    scratch.writeUInt32BE(BASIC_PROPERTIES << 16, at);
    at = scratch.writeBigUInt64BE(BigInt(content.length), at + 4);
    const flagsAt = at;
    at += 2;
    let flags = 0;
    // amqplib skips a property that is undefined or null (`void 0 != val`).
    let v = props['contentType'];
    if (v != null) flags += shortProperty(v, 32768);
    v = props['contentEncoding'];
    if (v != null) flags += shortProperty(v, 16384);
    v = props['headers'];
    if (v != null) {
      if (typeof v !== 'object') throw DECLINE;
      putTable(v as Record<string, unknown>);
      flags += 8192;
    }
    v = props['deliveryMode'];
    if (v != null) flags += octetProperty(v, 4096);
    v = props['priority'];
    if (v != null) flags += octetProperty(v, 2048);
    v = props['correlationId'];
    if (v != null) flags += shortProperty(v, 1024);
    v = props['replyTo'];
    if (v != null) flags += shortProperty(v, 512);
    v = props['expiration'];
    if (v != null) flags += shortProperty(v, 256);
    v = props['messageId'];
    if (v != null) flags += shortProperty(v, 128);
    // A timestamp (flag 64) is rare: amqplib encodes it.
    if (props['timestamp'] != null) throw DECLINE;
    v = props['type'];
    if (v != null) flags += shortProperty(v, 32);
    v = props['userId'];
    if (v != null) flags += shortProperty(v, 16);
    v = props['appId'];
    if (v != null) flags += shortProperty(v, 8);
    v = props['clusterId'];
    if (v != null) flags += shortProperty(v, 4);
    scratch.writeUInt16BE(flags, flagsAt);
    endFrame(start);

    // Body frame, when there is a body.
    if (content.length > 0) {
      start = startFrame(3, channel);
      room(content.length);
      at += content.copy(scratch, at);
      endFrame(start);
    }
    // amqplib writes a publish of this size or more in several chunks: its way, then.
    if (at >= SINGLE_CHUNK_THRESHOLD) return null;
    const frames = Buffer.allocUnsafe(at);
    scratch.copy(frames, 0, 0, at);
    return frames;
  } catch {
    // DECLINE, or a value Node's writers refuse (an int32 out of range): amqplib encodes it, and
    // raises its own error for what it refuses.
    return null;
  }
}
