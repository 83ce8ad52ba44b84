/**
 * What both sides of the raw ioredis floor row (raw-redis-contestant.ts, raw-redis-worker-child.ts)
 * share: the queue, the key names and the arguments of celeriac's own Lua scripts, laid out as
 * celeriac's broker and result backend lay them out (@celeriac/redis taken-messages.ts `request()`,
 * result-writes.ts), and the envelope a celeriac client would send for a no-op task.
 *
 * The envelope is made once, with celeriac's own encoders (core `buildTaskMessage`,
 * `encodeTaskMessage`; redis `encodeEnvelope`), and cut where the task id and the delivery tag
 * go: a task then costs two `randomUUID()` and a string join, the least a client can do, so the
 * row's figures leave out celeriac's per-task encoding (celeriac-redis pays it).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { buildTaskMessage, encodeTaskMessage, NOTIFY_HEADER } from '@celeriac/core';
import { DEFAULT_BLOCK_TIMEOUT_MS, encodeEnvelope, KombuKeys } from '@celeriac/redis';

/** Celery's default queue, as the bench app's tasks use it. */
export const QUEUE = 'celery';
/** The bench app's no-op task (celeriac/bench-app.ts). */
export const TASK_NAME = 'bench.noop';
/** Results are kept a day (the app default), in ms as SET PX takes it. */
export const RESULT_TTL_MS = 86_400_000;
/** Result keys, as celeriac and Celery name them. */
export const META_PREFIX = 'celery-task-meta-';
/** The broker's wait: BLMOVE's timeout, in seconds. */
export const BLOCK_TIMEOUT_S = DEFAULT_BLOCK_TIMEOUT_MS / 1000;

/** celeriac's key names (no prefix, db 0 as the bench's fanout names go unused). */
export const KEYS = new KombuKeys('', 0);

/** The queue's four lists, as a wait's EXISTS names them. */
export const QUEUE_LISTS: string[] = KEYS.lists(QUEUE);

/**
 * TAKE's KEYS for one queue: unacked, unacked_index, the three dead-letter keys, then the queue's
 * four priority lists.
 */
export const TAKE_KEYS: readonly string[] = [
  KEYS.unacked,
  KEYS.unackedIndex,
  KEYS.deadLetters,
  KEYS.deadLetterIndex,
  KEYS.deadLetterSeq,
  ...KEYS.lists(QUEUE),
];

/** ACK's KEYS: unacked, unacked_index. */
export const ACK_KEYS: readonly string[] = [KEYS.unacked, KEYS.unackedIndex];

/**
 * TAKE's ARGV for one queue and no acks riding along: limit, 1 queue, the dead-letter id prefix of
 * this take, 0 acks, the queue's name as JSON, its plain name.
 */
export function takeArgs(limit: number, deadLetterPrefix: string): string[] {
  return [String(limit), '1', deadLetterPrefix, '0', JSON.stringify(QUEUE), QUEUE];
}

/**
 * Most messages one take asks for, as celeriac's consumer: the prefetch is 4 × concurrency (the
 * worker's default multiplier), and a take asks for half of it once it is 8 or more, at most 500.
 */
export function takeLimit(concurrency: number): number {
  const prefetch = 4 * concurrency;
  return Math.min(500, prefetch >= 8 ? Math.ceil(prefetch / 2) : prefetch);
}

/** Makes envelopes: `(id, tag)` → the kombu envelope text, celeriac's bytes but for those two. */
export type EnvelopeMaker = (id: string, deliveryTag: string) => string;

/**
 * The envelope celeriac sends for `bench.noop` with no arguments, with the notify header when
 * `notify` names a channel (celeriac puts it on a task sent on its own, not on bulk sends).
 */
export function envelopeMaker(notify: string | null): EnvelopeMaker {
  const id = randomUUID();
  const tag = randomUUID();
  const message = buildTaskMessage({ task: TASK_NAME, id, origin: `gen${process.pid}@${hostname()}`, replyTo: randomUUID() });
  if (notify !== null) message.headers[NOTIFY_HEADER] = notify;
  const text = encodeEnvelope(encodeTaskMessage(message), { queue: QUEUE, priority: 0, deliveryTag: tag });
  // Odd pieces are the id (headers id and root_id, properties correlation_id) or the tag.
  const pieces = text.split(new RegExp(`(${id}|${tag})`));
  const isTag = pieces.map((piece, i) => i % 2 === 1 && piece === tag);
  return (newId, newTag) => {
    let out = pieces[0]!;
    for (let i = 1; i < pieces.length; i += 2) out += (isTag[i] ? newTag : newId) + pieces[i + 1]!;
    return out;
  };
}
