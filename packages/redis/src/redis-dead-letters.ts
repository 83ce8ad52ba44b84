/**
 * The dead-letter store of the Redis broker. Celery has no dead letters on Redis (a rejected
 * message is dropped), so these keys are celeriac's own and Python workers never read them:
 *
 * - `celeriac.dead-letters`: hash, id → JSON `{queue, priority, at (epoch ms), reason: {code,
 *   message}, envelope}` (the kombu envelope text as it was taken) or `{..., raw}` (an element
 *   that was not an envelope at all, kept verbatim);
 * - `celeriac.dead-letters.index`: zset, id → a sequence number from `celeriac.dead-letters.seq`
 *   (INCR), for listing oldest first.
 *
 * Entries are written by the scripts that move a message out of its queue or out of `unacked`
 * (broker-scripts.ts), so a message is never in two places or in none.
 */
import { randomUUID } from 'node:crypto';
import { clampPriority, ConfigError, type DeadLetterEntry, type ListDeadLettersOptions } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { REPLAY } from './broker-scripts.js';
import { decodeEnvelope, refreshEnvelope } from './kombu-envelope.js';
import type { KombuKeys } from './kombu-keys.js';

interface StoredEntry {
  readonly queue: string;
  readonly priority: number;
  readonly at: number;
  readonly reason: { readonly code: string; readonly message: string };
  readonly envelope: string | null;
  readonly raw: string | null;
}

/** Entries read per round trip while listing. */
const PAGE = 200;

export class RedisDeadLetters {
  constructor(
    /** The command client once connected (waits a bounded time; see the broker). */
    private readonly client: (what: string) => Promise<Redis>,
    private readonly keys: KombuKeys,
  ) {}

  async list(options: ListDeadLettersOptions = {}): Promise<DeadLetterEntry[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new ConfigError(`listDeadLetters option "limit" must be a non-negative integer, got ${JSON.stringify(limit)}`);
    }
    const client = await this.client('list dead letters');
    const out: DeadLetterEntry[] = [];
    // Filtering by queue scans the index in pages; dead letters are meant to be few.
    for (let start = 0; out.length < limit; start += PAGE) {
      const ids = await client.zrange(this.keys.deadLetterIndex, start, start + PAGE - 1);
      if (ids.length === 0) break;
      const texts = await client.hmget(this.keys.deadLetters, ...ids);
      ids.forEach((id, i) => {
        const stored = parseEntry(texts[i] ?? null);
        if (!stored || out.length >= limit) return;
        if (options.queue !== undefined && stored.queue !== options.queue) return;
        out.push(toEntry(id, stored));
      });
    }
    return out;
  }

  /** Puts an entry's envelope back on its queue, as a fresh publish (new tag, not redelivered). */
  async replay(id: string): Promise<boolean> {
    const client = await this.client(`replay dead letter ${id}`);
    const text = await client.hget(this.keys.deadLetters, id);
    const stored = parseEntry(text);
    if (!text || !stored?.envelope || !decodeEnvelope(stored.envelope).ok) return false;
    const envelope = refreshEnvelope(stored.envelope, randomUUID());
    const list = this.keys.list(stored.queue, stored.priority);
    const replayed = await REPLAY.run(client, [this.keys.deadLetters, this.keys.deadLetterIndex, list], [id, text, envelope]);
    return replayed === 1;
  }

  async delete(id: string): Promise<boolean> {
    const client = await this.client(`delete dead letter ${id}`);
    const replies = await client.multi().hdel(this.keys.deadLetters, id).zrem(this.keys.deadLetterIndex, id).exec();
    const err = replies?.find(([e]) => e)?.[0];
    if (err) throw err;
    return Number(replies?.[0]?.[1] ?? 0) === 1;
  }
}

function parseEntry(text: string | null): StoredEntry | null {
  if (!text) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const e = parsed as Record<string, unknown>;
  const reason = (typeof e['reason'] === 'object' && e['reason'] !== null ? e['reason'] : {}) as Record<string, unknown>;
  return {
    queue: typeof e['queue'] === 'string' ? e['queue'] : '',
    priority: clampPriority(typeof e['priority'] === 'number' ? e['priority'] : 0),
    at: typeof e['at'] === 'number' ? e['at'] : 0,
    reason: { code: String(reason['code'] ?? 'unknown'), message: String(reason['message'] ?? '') },
    envelope: typeof e['envelope'] === 'string' ? e['envelope'] : null,
    raw: typeof e['raw'] === 'string' ? e['raw'] : null,
  };
}

function toEntry(id: string, stored: StoredEntry): DeadLetterEntry {
  const decoded = stored.envelope === null ? null : decodeEnvelope(stored.envelope, stored.priority);
  return {
    id,
    queue: stored.queue,
    reason: stored.reason,
    deadLetteredAt: new Date(stored.at),
    message: decoded?.ok ? decoded.message : null,
    // Text that is not a usable envelope is shown as it was.
    raw: decoded?.ok ? null : (stored.raw ?? stored.envelope),
  };
}
