/**
 * Celery task messages, protocol v2: build, encode and decode. Pure: no I/O, no clock except the
 * `now` the caller passes in.
 *
 * A message is transport-neutral here ({@link RawMessage}): headers, properties, a body string and
 * its content type. Each broker maps it onto its own wire (kombu's JSON envelope on Redis, AMQP
 * properties on RabbitMQ, rows in SQLite). See shared/celery-wire-protocol.md §1.
 */
import { BadMessageError } from '../errors.js';
import { formatIsoUtc, parseIso } from './iso-time.js';
import { parseKombuJson } from './kombu-json.js';
import { argsRepr, kwargsRepr } from './python-repr.js';
import { emptyEmbed, type Embed, type SignatureData } from './signature-data.js';

export const JSON_CONTENT_TYPE = 'application/json';

/**
 * A header of ours (Celery passes unknown headers through to the task's request): the channel on
 * which the sender waits to be told of the task's states, besides the task's own
 * (ResultBackend.expect). Only celeriac workers act on it.
 */
export const NOTIFY_HEADER = 'celeriac_notify';

/** The transport-neutral form every broker carries. */
export interface RawMessage {
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  /** The serialized payload (JSON text for `application/json`). */
  body: string;
  contentType: string;
  contentEncoding: string;
}

/** The 16 headers Celery 5.2 always sends, plus whatever user headers ride along. */
export interface TaskHeaders {
  lang: string;
  task: string;
  id: string;
  shadow: string | null;
  eta: string | null;
  expires: string | null;
  group: string | null;
  group_index: number | null;
  retries: number;
  /** `[hard, soft]` in seconds. Hard first. */
  timelimit: [number | null, number | null];
  root_id: string;
  parent_id: string | null;
  argsrepr: string;
  kwargsrepr: string;
  origin: string;
  ignore_result: boolean;
  [key: string]: unknown;
}

export interface TaskProperties {
  correlation_id: string;
  reply_to: string;
  delivery_mode: number;
  priority?: number;
  /** Milliseconds until expiry, as a string (AMQP per-message TTL). */
  expiration?: string;
  [key: string]: unknown;
}

/** A decoded task message. Dates are parsed; the header strings stay as they came. */
export interface TaskMessage {
  headers: TaskHeaders;
  properties: TaskProperties;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: Embed;
  eta: Date | null;
  expires: Date | null;
}

/** What a client supplies to build a message; everything else gets Celery's defaults. */
export interface NewTaskMessage {
  task: string;
  id: string;
  args?: readonly unknown[];
  kwargs?: Record<string, unknown>;
  eta?: Date | null;
  expires?: Date | null;
  retries?: number;
  /** `[hard, soft]` seconds. */
  timelimit?: [number | null, number | null];
  rootId?: string | null;
  parentId?: string | null;
  group?: string | null;
  groupIndex?: number | null;
  shadow?: string | null;
  origin: string;
  replyTo: string;
  ignoreResult?: boolean;
  priority?: number | null;
  /** User headers, merged into the same headers object as Celery does. */
  headers?: Record<string, unknown>;
  embed?: Partial<Embed>;
  /** The instant used to compute the `expiration` property. @default the current time */
  now?: Date;
}

const STANDARD_HEADER_KEYS = new Set([
  'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit',
  'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result',
]);

/** Builds a message with all 16 headers, in Celery's order. */
export function buildTaskMessage(input: NewTaskMessage): TaskMessage {
  const args = input.args === undefined ? [] : [...input.args];
  const kwargs = input.kwargs === undefined ? {} : { ...input.kwargs };
  const headers: TaskHeaders = {
    lang: 'js',
    task: input.task,
    id: input.id,
    shadow: input.shadow ?? null,
    eta: input.eta ? formatIsoUtc(input.eta) : null,
    expires: input.expires ? formatIsoUtc(input.expires) : null,
    group: input.group ?? null,
    group_index: input.groupIndex ?? null,
    retries: input.retries ?? 0,
    timelimit: input.timelimit ?? [null, null],
    root_id: input.rootId || input.id,
    parent_id: input.parentId ?? null,
    argsrepr: argsRepr(args),
    kwargsrepr: kwargsRepr(kwargs),
    origin: input.origin,
    ignore_result: input.ignoreResult ?? false,
  };
  if (input.headers !== undefined) {
    for (const [k, v] of Object.entries(input.headers)) {
      if (!STANDARD_HEADER_KEYS.has(k)) headers[k] = v;
    }
  }
  const properties: TaskProperties = {
    correlation_id: input.id,
    reply_to: input.replyTo,
    delivery_mode: 2,
  };
  // Celery's order: expiration (set by kombu's publish) comes before the transport's priority.
  if (input.expires) {
    const ms = Math.max(0, Math.trunc(input.expires.getTime() - (input.now ?? new Date()).getTime()));
    properties.expiration = String(ms);
  }
  if (input.priority !== undefined && input.priority !== null) properties.priority = input.priority;
  return {
    headers,
    properties,
    args,
    kwargs,
    // The spread keeps what a partial embed says, keys set to undefined included (as before).
    embed: input.embed === undefined ? emptyEmbed() : { ...emptyEmbed(), ...input.embed },
    eta: input.eta ?? null,
    expires: input.expires ?? null,
  };
}

/** Serializes a message for a broker. Throws when an argument cannot be encoded as JSON. */
export function encodeTaskMessage(message: TaskMessage): RawMessage {
  return {
    headers: message.headers,
    properties: message.properties,
    body: JSON.stringify([message.args, message.kwargs, message.embed]),
    contentType: JSON_CONTENT_TYPE,
    contentEncoding: 'utf-8',
  };
}

/**
 * Decodes and validates a message from a broker. Every defect is a {@link BadMessageError} whose
 * `reason` says which one, so the worker can set the message aside with it.
 */
export function decodeTaskMessage(raw: RawMessage): TaskMessage {
  const headers = raw.headers ?? {};
  if (raw.contentType !== JSON_CONTENT_TYPE) {
    throw new BadMessageError(
      'content-type',
      `refusing to deserialize content of type ${JSON.stringify(raw.contentType)}: only ${JSON_CONTENT_TYPE} is accepted`,
    );
  }
  if (headers['compression'] !== undefined && headers['compression'] !== null) {
    throw new BadMessageError('compression', `compressed messages (${String(headers['compression'])}) are not supported yet`);
  }
  let body: unknown;
  try {
    body = parseKombuJson(raw.body);
  } catch (cause) {
    throw new BadMessageError('body-not-json', `message body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof headers['task'] !== 'string') {
    // Protocol v1 puts everything in a dict body; Celery 5 workers still accept it.
    if (isRecord(body) && typeof body['task'] === 'string') return fromProtocolV1(body, raw);
    throw new BadMessageError('missing-header', 'message has no "task" header (and is not a protocol v1 message)');
  }
  if (!Array.isArray(body) || body.length !== 3) {
    throw new BadMessageError('body-shape', 'message body must be a JSON array [args, kwargs, embed]');
  }
  const [args, kwargs, embed] = body as [unknown, unknown, unknown];
  return finish(headers, raw.properties ?? {}, args, kwargs, embed);
}

function finish(
  headers: Record<string, unknown>,
  properties: Record<string, unknown>,
  args: unknown,
  kwargs: unknown,
  embed: unknown,
): TaskMessage {
  if (typeof headers['id'] !== 'string' || headers['id'] === '') {
    throw new BadMessageError('missing-header', 'message has no "id" header');
  }
  if (!Array.isArray(args)) throw new BadMessageError('bad-args', 'message args must be a JSON array');
  if (!isRecord(kwargs)) throw new BadMessageError('bad-kwargs', 'message kwargs must be a JSON object');
  if (embed !== null && embed !== undefined && !isRecord(embed)) {
    throw new BadMessageError('bad-embed', 'message embed must be a JSON object or null');
  }
  const eta = dateHeader(headers, 'eta');
  const expires = dateHeader(headers, 'expires');
  const retries = headers['retries'] ?? 0;
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0) {
    throw new BadMessageError('bad-header', `header "retries" must be a non-negative integer, got ${JSON.stringify(retries)}`);
  }
  const id = headers['id'];
  const fullHeaders: TaskHeaders = {
    ...headers,
    lang: str(headers['lang']) ?? 'py',
    task: headers['task'] as string,
    id,
    shadow: str(headers['shadow']),
    eta: eta ? (headers['eta'] as string) : null,
    expires: expires ? (headers['expires'] as string) : null,
    group: str(headers['group']),
    group_index: typeof headers['group_index'] === 'number' ? headers['group_index'] : null,
    retries,
    timelimit: timelimitHeader(headers['timelimit']),
    root_id: str(headers['root_id']) ?? id,
    parent_id: str(headers['parent_id']),
    argsrepr: str(headers['argsrepr']) ?? argsRepr(args),
    kwargsrepr: str(headers['kwargsrepr']) ?? kwargsRepr(kwargs),
    origin: str(headers['origin']) ?? '',
    ignore_result: headers['ignore_result'] === true,
  };
  const e = (embed ?? {}) as Record<string, unknown>;
  return {
    headers: fullHeaders,
    properties: {
      ...properties,
      correlation_id: str(properties['correlation_id']) ?? id,
      reply_to: str(properties['reply_to']) ?? '',
      delivery_mode: typeof properties['delivery_mode'] === 'number' ? properties['delivery_mode'] : 2,
    },
    args,
    kwargs,
    embed: {
      callbacks: (e['callbacks'] as SignatureData[] | null | undefined) ?? null,
      errbacks: (e['errbacks'] as SignatureData[] | null | undefined) ?? null,
      chain: (e['chain'] as SignatureData[] | null | undefined) ?? null,
      chord: (e['chord'] as SignatureData | null | undefined) ?? null,
    },
    eta,
    expires,
  };
}

function fromProtocolV1(body: Record<string, unknown>, raw: RawMessage): TaskMessage {
  const headers: Record<string, unknown> = {
    task: body['task'],
    id: body['id'],
    eta: body['eta'] ?? null,
    expires: body['expires'] ?? null,
    group: body['taskset'] ?? body['group'] ?? null,
    retries: body['retries'] ?? 0,
    timelimit: body['timelimit'] ?? [null, null],
    lang: 'py',
  };
  const embed = { callbacks: body['callbacks'] ?? null, errbacks: body['errbacks'] ?? null, chain: null, chord: body['chord'] ?? null };
  return finish(headers, raw.properties ?? {}, body['args'] ?? [], body['kwargs'] ?? {}, embed);
}

function dateHeader(headers: Record<string, unknown>, key: 'eta' | 'expires'): Date | null {
  const value = headers[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new BadMessageError('bad-header', `header "${key}" must be an ISO-8601 string, got ${JSON.stringify(value)}`);
  const date = parseIso(value);
  if (!date) throw new BadMessageError('bad-header', `header "${key}" is not an ISO-8601 timestamp: ${JSON.stringify(value)}`);
  return date;
}

function timelimitHeader(value: unknown): [number | null, number | null] {
  if (!Array.isArray(value)) return [null, null];
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);
  return [num(value[0]), num(value[1])];
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
