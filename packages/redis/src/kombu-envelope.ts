/**
 * kombu's JSON envelope on Redis (shared/celery-wire-protocol.md §2.2): the form every list
 * element, `unacked` entry and fanout payload takes. Pure: no I/O.
 *
 * ```
 * {"body": <base64 of the payload>, "content-encoding": ..., "content-type": ..., "headers": {...},
 *  "properties": {...the message's own..., "delivery_info": {"exchange": "", "routing_key": <queue>},
 *                 "priority": <0-9>, "body_encoding": "base64", "delivery_tag": <uuid4>}}
 * ```
 *
 * Keys come in kombu's order. The text is compact JSON with UTF-8 left as is, where Python writes
 * `", "`/`": "` separators and `\uXXXX` escapes; both are the same JSON to every reader.
 *
 * `delivery_info` and `priority` are the transport's: `delivery_info.routing_key` is the queue the
 * message was sent to (a Python worker re-sends retries there) and `priority` the one that chose its
 * list. Decoding keeps both in the message's properties, as a Python worker sees them, and drops
 * `body_encoding` and `delivery_tag`, which describe the envelope itself (the tag becomes the
 * delivery's `deliveryTag`).
 */
import { clampPriority, ConfigError, type RawMessage } from '@celeriac/core';

/** Where an envelope is going and under which tag. */
export interface EnvelopeTarget {
  /** The routing key: the queue, on the default exchange. */
  readonly queue: string;
  /** The exchange (fanout publishes name one). @default '' (the default exchange) */
  readonly exchange?: string;
  /** Already clamped to 0–9. */
  readonly priority: number;
  readonly deliveryTag: string;
}

export type DecodedEnvelope =
  | { readonly ok: true; readonly message: RawMessage; readonly deliveryTag: string; readonly priority: number; readonly redelivered: boolean }
  | { readonly ok: false; readonly code: string; readonly reason: string };

/** Properties that describe the envelope, not the message; never handed to the caller. */
const ENVELOPE_PROPERTIES = new Set(['body_encoding', 'delivery_tag']);
/** Properties the transport sets; written after the message's own ones, in kombu's order. */
const TRANSPORT_PROPERTIES = new Set(['delivery_info', 'priority', 'body_encoding', 'delivery_tag']);

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The priority a message is published with: the publish option if given, else the message's
 * `priority` property, else 0; clamped to 0–9.
 */
export function publishPriority(message: RawMessage, optionPriority: number | undefined): number {
  const own = message.properties['priority'];
  return clampPriority(optionPriority ?? (typeof own === 'number' ? own : 0));
}

/** The envelope kombu would write for `message` published to `target.queue` (on `target.exchange`). */
export function encodeEnvelope(message: RawMessage, target: EnvelopeTarget): string {
  const own = message.properties;
  const properties: Record<string, unknown> = {};
  // for...in without Object.entries' pairs; inherited keys are skipped, as Object.entries does.
  // (Not a spread of `own`: the transport's keys added to a spread copy cost several times more.)
  for (const key in own) {
    if (!TRANSPORT_PROPERTIES.has(key) && Object.hasOwn(own, key)) properties[key] = own[key];
  }
  const info = own['delivery_info'];
  const exchange = target.exchange ?? '';
  // kombu updates an existing delivery_info (keeping its other keys) and creates it otherwise.
  properties['delivery_info'] = isRecord(info) ? { ...info, exchange, routing_key: target.queue } : { exchange, routing_key: target.queue };
  properties['priority'] = target.priority;
  properties['body_encoding'] = 'base64';
  properties['delivery_tag'] = target.deliveryTag;
  return JSON.stringify({
    body: encodeBody(message),
    'content-encoding': message.contentEncoding,
    'content-type': message.contentType,
    headers: message.headers,
    properties,
  });
}

/**
 * Reads an envelope. `bucketPriority` (the step of the list it came from) stands in when the
 * envelope carries no usable priority. Every defect comes back as a `bad-message:*` code.
 */
export function decodeEnvelope(text: string, bucketPriority = 0): DecodedEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return bad('envelope-not-json', `the envelope is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) return bad('envelope-not-json', 'the envelope is not a JSON object');
  const props = parsed['properties'];
  if (!isRecord(props)) return bad('envelope-no-properties', 'the envelope has no "properties" object');
  const tag = props['delivery_tag'];
  if (typeof tag !== 'string' || tag === '') return bad('envelope-no-delivery-tag', 'the envelope has no properties.delivery_tag');
  const headers = parsed['headers'] ?? {};
  if (!isRecord(headers)) return bad('envelope-headers', 'the envelope\'s "headers" is not a JSON object');
  const contentType = parsed['content-type'] ?? '';
  const contentEncoding = parsed['content-encoding'] ?? '';
  if (typeof contentType !== 'string' || typeof contentEncoding !== 'string') {
    return bad('envelope-content-type', 'the envelope\'s "content-type" or "content-encoding" is not a string');
  }
  const rawBody = parsed['body'] ?? '';
  if (typeof rawBody !== 'string') return bad('envelope-body', 'the envelope\'s "body" is not a string');
  let body = rawBody;
  const bodyEncoding = props['body_encoding'];
  if (bodyEncoding === 'base64') {
    if (!BASE64.test(rawBody)) return bad('body-not-base64', 'the envelope says body_encoding "base64" but its body is not base64');
    body = Buffer.from(rawBody, 'base64').toString(contentEncoding === 'binary' ? 'latin1' : 'utf8');
  } else if (bodyEncoding !== undefined && bodyEncoding !== null) {
    return bad('body-encoding', `unsupported body_encoding ${JSON.stringify(bodyEncoding)}`);
  }
  const properties: Record<string, unknown> = {};
  // for...in over a fresh JSON.parse result: own enumerable keys only, without Object.entries' pairs.
  for (const key in props) if (!ENVELOPE_PROPERTIES.has(key)) properties[key] = props[key];
  const info = props['delivery_info'];
  const ownPriority = props['priority'];
  return {
    ok: true,
    message: { headers, properties, body, contentType, contentEncoding },
    deliveryTag: tag,
    priority: typeof ownPriority === 'number' ? clampPriority(ownPriority) : bucketPriority,
    redelivered: headers['redelivered'] === true || (isRecord(info) && info['redelivered'] === true),
  };
}

/**
 * The envelope with kombu's redelivery marks (`headers.redelivered` and
 * `properties.delivery_info.redelivered`), as kombu restores it; the same text when it is not an
 * envelope. Integers beyond 2^53 in headers or properties would lose precision here (JSON.parse).
 */
export function markRedelivered(text: string): string {
  return rewrite(text, (headers, info) => {
    headers['redelivered'] = true;
    if (info) info['redelivered'] = true;
  });
}

/** The envelope without redelivery marks and with a new delivery tag: a fresh publish of it. */
export function refreshEnvelope(text: string, deliveryTag: string): string {
  return rewrite(text, (headers, info, props) => {
    delete headers['redelivered'];
    if (info) delete info['redelivered'];
    props['delivery_tag'] = deliveryTag;
  });
}

function rewrite(text: string, edit: (headers: Record<string, unknown>, info: Record<string, unknown> | null, props: Record<string, unknown>) => void): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  if (!isRecord(parsed) || !isRecord(parsed['properties'])) return text;
  const props = parsed['properties'];
  if (!isRecord(parsed['headers'])) parsed['headers'] = {};
  const info = props['delivery_info'];
  edit(parsed['headers'] as Record<string, unknown>, isRecord(info) ? info : null, props);
  return JSON.stringify(parsed);
}

function encodeBody(message: RawMessage): string {
  if (message.contentEncoding === 'binary') {
    // A binary payload travels as a latin1 string (one char per byte); anything wider is not bytes.
    // eslint-disable-next-line no-control-regex
    if (/[^\x00-\xff]/.test(message.body)) {
      throw new ConfigError('a message with content-encoding "binary" must carry its bytes as a latin1 string (chars 0-255), got wider characters');
    }
    return Buffer.from(message.body, 'latin1').toString('base64');
  }
  const body = message.body;
  // Through one buffer kept for the purpose: no Buffer made (and sized) per message. At most 3
  // bytes per UTF-16 unit, so a body that passes this test fits whole.
  if (body.length * 3 <= SCRATCH.length) return SCRATCH.toString('base64', 0, SCRATCH.write(body));
  return Buffer.from(body, 'utf8').toString('base64');
}

const SCRATCH = Buffer.allocUnsafeSlow(16 * 1024);

function bad(reason: string, text: string): DecodedEnvelope {
  return { ok: false, code: `bad-message:${reason}`, reason: text };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
