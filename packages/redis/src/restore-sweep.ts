/**
 * kombu's `restore_visible`: messages whose `unacked_index` score is older than the visibility
 * timeout belong to a consumer that died (or, for Python workers, one that has held them too
 * long) and go back to the head of their queue (RPUSH, so they are consumed next), marked
 * redelivered, under the same delivery tag.
 *
 * As in kombu the sweep holds `unacked_mutex` (SET NX PX), so it never runs alongside a Python
 * worker's sweep or another celeriac one. Each move is a compare-and-set on the entry read at the
 * start of the sweep (broker-scripts.ts MOVE_BACK), so a message acknowledged meanwhile is left
 * alone.
 *
 * Where a message goes: entries written by celeriac and by Celery clients on the default
 * exchange say `["...", "", "<queue>"]`; for a named exchange the queue is looked up in
 * `_kombu.binding.<exchange>` (first matching binding), as kombu does. The list is the one for the
 * message's priority (as kombu 5.6; kombu 5.2.4 used the main list whatever the priority).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { DEAD_LETTER, LIST_EXPIRED, MOVE_BACK, RELEASE_MUTEX } from './broker-scripts.js';
import { markRedelivered } from './kombu-envelope.js';
import { parseBindingMember, type KombuKeys } from './kombu-keys.js';

/** Most messages restored by one sweep (the next sweep continues). */
const SWEEP_LIMIT = 1000;
/** How long the mutex is held at most if this process dies mid-sweep. */
const MUTEX_MS = 60_000;

interface Restore {
  readonly tag: string;
  readonly expected: string;
  readonly envelope: string;
  readonly list: string;
}

/** Runs one sweep; returns how many messages went back (0 when another sweeper held the mutex). */
export async function restoreExpired(client: Redis, keys: KombuKeys, visibilityTimeoutS: number, logger: Logger): Promise<number> {
  const token = randomUUID();
  const reply = await LIST_EXPIRED.run(client, [keys.unackedIndex, keys.unacked, keys.unackedMutex], [visibilityTimeoutS, SWEEP_LIMIT, token, MUTEX_MS]);
  if (!Array.isArray(reply)) return 0;
  try {
    const bindings = new Map<string, string[]>();
    const restores: Restore[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const tag = String(reply[i]);
      const entry = String(reply[i + 1]);
      if (entry === '') {
        // An index entry without its message (half of an interrupted ack): drop it.
        restores.push({ tag, expected: '', envelope: '', list: keys.unackedIndex });
        continue;
      }
      const target = await targetOf(client, keys, entry, bindings);
      if (target) restores.push({ tag, expected: entry, ...target });
      else await setAside(client, keys, tag, entry, logger);
    }
    let moved = 0;
    for (let i = 0; i < restores.length; i += 200) {
      const chunk = restores.slice(i, i + 200);
      moved += Number(await MOVE_BACK.run(client, [keys.unacked, keys.unackedIndex, ...chunk.map((r) => r.list)], chunk.flatMap((r) => [r.tag, r.expected, r.envelope, 'R'])));
    }
    if (moved > 0) logger.warn(`redis broker: restored ${moved} unacknowledged message(s) older than the visibility timeout (${visibilityTimeoutS} s)`);
    return moved;
  } finally {
    await RELEASE_MUTEX.run(client, [keys.unackedMutex], [token]);
  }
}

/** Where an `unacked` entry `[envelope, exchange, routing_key]` goes back to; null if unreadable. */
async function targetOf(client: Redis, keys: KombuKeys, entry: string, bindings: Map<string, string[]>): Promise<{ envelope: string; list: string } | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length < 3 || typeof parsed[1] !== 'string' || typeof parsed[2] !== 'string') return null;
  const [message, exchange, routingKey] = parsed as [unknown, string, string];
  const queue = exchange === '' ? routingKey : await lookup(client, keys, exchange, routingKey, bindings);
  if (typeof message === 'string') return { envelope: message, list: keys.list(queue, 0) };
  const props = isRecord(message) ? message['properties'] : undefined;
  const priority = isRecord(props) && typeof props['priority'] === 'number' ? props['priority'] : 0;
  return { envelope: markRedelivered(JSON.stringify(message)), list: keys.list(queue, priority) };
}

async function lookup(client: Redis, keys: KombuKeys, exchange: string, routingKey: string, cache: Map<string, string[]>): Promise<string> {
  let members = cache.get(exchange);
  if (!members) {
    members = await client.smembers(keys.binding(exchange));
    cache.set(exchange, members);
  }
  for (const member of members) {
    const b = parseBindingMember(member);
    if (!b) continue;
    if (b.pattern ? safeTest(b.pattern, routingKey) : b.routingKey === routingKey || b.routingKey === '' || b.routingKey === '#') return b.queue;
  }
  return routingKey;
}

/** An entry nobody can read is moved to the dead letters rather than retried every sweep. */
async function setAside(client: Redis, keys: KombuKeys, tag: string, entry: string, logger: Logger): Promise<void> {
  logger.warn(`redis broker: unacked entry ${tag} is not [envelope, exchange, routing_key]; dead-lettering it`);
  await DEAD_LETTER.run(client, [keys.unacked, keys.unackedIndex, keys.deadLetters, keys.deadLetterIndex, keys.deadLetterSeq], [
    tag, entry, randomUUID(), '', 0, 'bad-message:unacked-entry', 'the unacked entry is not [envelope, exchange, routing_key]', entry,
  ]);
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
