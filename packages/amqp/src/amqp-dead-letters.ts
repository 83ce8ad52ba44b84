/**
 * Dead letters on RabbitMQ: the queue `celeriac.dead-letters`, fed through the fanout exchange
 * `celeriac.dlx` (amqp-topology.ts).
 *
 * celeriac sets a message aside by publishing a copy there, with a confirm, carrying its reason
 * in headers (`x-celeriac-dead-letter-id`, `-reason-code`, `-reason`, `-queue`,
 * `-dead-lettered-at`), and only then acknowledging the original: a dead letter is never lost, and
 * (if the process dies between the two) at worst present twice. A reject alone could not carry a
 * reason. Messages RabbitMQ itself dead-letters there (a queue given `celeriac.dlx` as its DLX by
 * a policy: Python workers' rejects, expired messages) carry `x-death` instead; they are listed
 * with the reason RabbitMQ gives (`rejected`, `expired`, ...).
 *
 * Listing reads the queue with basic.get on a channel of its own and closes that channel, which
 * puts every message back where it was; replay and delete acknowledge the one they are after.
 * That reads the whole queue up to the entry, fine for tooling, not for a hot path.
 */
import { randomUUID } from 'node:crypto';
import type { DeadLetterEntry, DeadLetterReason, ListDeadLettersOptions, RawMessage } from '@celeriac/core';
import type { Channel, GetMessage } from 'amqplib';
import { fromAmqp, publishOptions } from './amqp-message.js';
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE } from './amqp-topology.js';
import type { Outgoing } from './amqp-publisher.js';

const H = {
  id: 'x-celeriac-dead-letter-id',
  code: 'x-celeriac-reason-code',
  reason: 'x-celeriac-reason',
  queue: 'x-celeriac-queue',
  at: 'x-celeriac-dead-lettered-at',
} as const;
const OUR_HEADERS: readonly string[] = Object.values(H);

/** Most messages a listing reads. */
const MAX_SCAN = 100_000;

/** The copy to publish for a message set aside from `queue`. */
export function deadLetterCopy(message: RawMessage, queue: string, priority: number, reason: DeadLetterReason): Outgoing {
  const headers = {
    ...message.headers,
    [H.id]: randomUUID(),
    [H.code]: reason.code,
    [H.reason]: reason.message,
    [H.queue]: queue,
    [H.at]: new Date().toISOString(),
  };
  const options = publishOptions({ ...message, headers }, priority);
  // Kept however long it waits; an expiration would drop the dead letter itself.
  delete options.expiration;
  options.deliveryMode = 2;
  return { exchange: DEAD_LETTER_EXCHANGE, routingKey: queue, content: Buffer.from(message.body, 'utf8'), options, declare: '' };
}

/** The entry a dead-lettered message describes. */
export function entryOf(msg: GetMessage): DeadLetterEntry {
  const message = fromAmqp(msg);
  const h = message.headers;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const death = Array.isArray(h['x-death']) ? (h['x-death'][0] as Record<string, unknown> | undefined) : undefined;
  const nativeReason = str(h['x-first-death-reason']) ?? str(death?.['reason']) ?? 'unknown';
  const id = str(h[H.id]) ?? `native-${String(message.properties['correlation_id'] ?? msg.fields.deliveryTag)}-${String(death?.['time'] ?? '')}`;
  const queue = str(h[H.queue]) ?? str(h['x-first-death-queue']) ?? str(death?.['queue']) ?? msg.fields.routingKey;
  const code = str(h[H.code]);
  const reason: DeadLetterReason = code
    ? { code, message: str(h[H.reason]) ?? '' }
    : { code: `rabbitmq:${nativeReason}`, message: `dead-lettered by RabbitMQ (${nativeReason})` };
  const atText = str(h[H.at]);
  const at = atText ? new Date(atText) : typeof death?.['time'] === 'number' ? new Date(death['time'] * 1000) : new Date(0);
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) if (!OUR_HEADERS.includes(k)) headers[k] = v;
  return { id, queue, reason, deadLetteredAt: at, message: { ...message, headers }, raw: null };
}

/**
 * Reads the dead-letter queue on `channel` (which the caller closes, putting everything back),
 * calling `visit` for each until it returns true (found) or the queue is read.
 */
export async function scanDeadLetters(channel: Channel, visit: (msg: GetMessage, entry: DeadLetterEntry) => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < MAX_SCAN; i++) {
    const msg = await channel.get(DEAD_LETTER_QUEUE, { noAck: false });
    if (msg === false) return;
    if (await visit(msg, entryOf(msg))) return;
  }
}

/** Entries for `listDeadLetters`. */
export async function listDeadLetters(channel: Channel, options: ListDeadLettersOptions = {}): Promise<DeadLetterEntry[]> {
  const limit = options.limit ?? 100;
  const out: DeadLetterEntry[] = [];
  if (limit <= 0) return out;
  await scanDeadLetters(channel, (_msg, entry) => {
    if (options.queue === undefined || entry.queue === options.queue) out.push(entry);
    return out.length >= limit;
  });
  return out;
}
