/**
 * Landing lists: how an idle consumer takes a message without a script.
 *
 * A consumer whose lists were empty waits with `BLMOVE <queue> <landing list> RIGHT LEFT`: the
 * message leaves the queue and lands in a list of the consumer's own in one atomic step, and the
 * reply carries it, so it is handed over at once. Within the turn it arrived in, a message is
 * either acknowledged (the worker acks early, as Celery does by default): one plain LREM from the
 * landing list, riding the consumer's next wait; or, left unsettled, recorded in kombu's `unacked`
 * / `unacked_index` like any taken message (broker-scripts.ts RECORD_LANDED). No Lua runs on the
 * way of a task through an idle worker: on Redis a script costs tens of microseconds where a
 * plain command costs one or two, most of a round trip's server time.
 *
 * A crash between the BLMOVE and that ack or record leaves the message in the landing list, never
 * lost: each consumer keeps a key `celeriac.alive.<id>` with a time to live (the visibility
 * timeout, at least a second and long enough to outlive a wait), set again before its waits, and
 * names its landing lists in the set `celeriac.landings`. The restore sweep (unacked-upkeep.ts)
 * gives the messages of a consumer whose key expired back to the head of their queue, marked
 * redelivered, as kombu's `restore_visible` does for `unacked` (the script that moves them checks
 * the key again), and forgets its empty lists. A wait sent again by ioredis after a dropped
 * connection may leave its first run's message in the list unseen: the consumer then gives back
 * what it does not know of its list (taken-messages.ts reconcile). Every move out of a landing
 * list is an LREM of the exact element (a compare-and-set): the owner and a sweep never both move
 * one message.
 */
import type { Logger } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { FORGET_LANDING, RETURN_LANDED } from './broker-scripts.js';
import { markRedelivered } from './kombu-envelope.js';
import { landingMember, parseLandingMember, type KombuKeys } from './kombu-keys.js';

/** One queue's landing list of one consumer. */
export interface LandingSpot {
  readonly queue: string;
  readonly member: string;
  /** The landing list's key. */
  readonly list: string;
  /** A wait on this spot failed or crossed a dropped connection: whatever landed unseen must go back first. */
  suspect: boolean;
  /**
   * Until when (ms since the epoch) the spot stays suspect after a reconcile: the first run of a
   * wait sent before a drop may still be running on the server (a connection the client gave up
   * but the server still holds), and can move a message until its timeout ends (see suspectAfterDrop).
   */
  suspectUntil: number;
}

/** Extra time past a wait's timeout for a wait the server may still be running to have ended. */
export const ORPHAN_WAIT_MARGIN_MS = 1000;

/** Marks `spot` suspect after a dropped connection, for as long as a wait sent before the drop may run on. */
export function suspectAfterDrop(spot: LandingSpot, blockTimeoutMs: number, now = Date.now()): void {
  spot.suspect = true;
  spot.suspectUntil = Math.max(spot.suspectUntil, now + blockTimeoutMs + ORPHAN_WAIT_MARGIN_MS);
}

/** The landing lists of one consumer and its liveness key. */
export class ConsumerLanding {
  private readonly spots = new Map<string, LandingSpot>();
  private readonly alive: string;
  private readonly aliveMs: number;
  /** When the alive key and the members were last written (0: never). */
  private registeredAt = 0;
  /** Members written since, for the spots first waited on after that. */
  private readonly registered = new Set<string>();

  /**
   * @param blockTimeoutMs the longest a wait blocks: the alive key outlives it (set at most every
   *   quarter of its life, before a wait, it must not expire while the wait blocks).
   */
  constructor(
    readonly id: string,
    private readonly keys: KombuKeys,
    visibilityTimeoutS: number,
    blockTimeoutMs: number,
  ) {
    this.alive = keys.alive(id);
    this.aliveMs = Math.max(1000, Math.ceil(visibilityTimeoutS * 1000), 2 * blockTimeoutMs + 1000);
  }

  /** Some spot is suspect (see LandingSpot.suspect). */
  get suspect(): boolean {
    for (const spot of this.spots.values()) if (spot.suspect) return true;
    return false;
  }

  suspects(): LandingSpot[] {
    return [...this.spots.values()].filter((spot) => spot.suspect);
  }

  spot(queue: string): LandingSpot {
    let spot = this.spots.get(queue);
    if (!spot) {
      const member = landingMember(this.id, queue);
      spot = { queue, member, list: this.keys.landing(member), suspect: false, suspectUntil: 0 };
      this.spots.set(queue, spot);
    }
    return spot;
  }

  /**
   * Issues, ahead of a wait on `spot` (same connection, same write), what keeps its landing list
   * found by a sweep: the member and the alive key, when they were never written or a quarter of
   * the key's life has passed (so it never expires while this consumer waits now and then).
   */
  register(client: Redis, spot: LandingSpot, now = Date.now()): void {
    if (now - this.registeredAt >= this.aliveMs / 4) {
      this.registeredAt = now;
      this.registered.clear();
      client.set(this.alive, '1', 'PX', this.aliveMs).catch(() => undefined);
    }
    if (this.registered.has(spot.member)) return;
    this.registered.add(spot.member);
    // Failures show on the wait sent right behind (same connection).
    client.sadd(this.keys.landings, spot.member).catch(() => undefined);
  }

  /** The consumer left: its empty landing lists are forgotten and its key removed. */
  async release(client: Redis): Promise<void> {
    let kept = 0;
    for (const spot of this.spots.values()) {
      kept += 1 - Number(await FORGET_LANDING.run(client, [this.keys.landings, this.alive, spot.list], [spot.member, 'own']));
    }
    // A list still holding a message (settled after this) stays named; the key's expiry lets a sweep check it.
    if (kept === 0) await client.del(this.alive);
  }
}

/**
 * The sweep's part for landing lists: every list named in `celeriac.landings` whose consumer's
 * key has expired goes back to the head of its queue's main list (the list the wait took it from),
 * oldest first, marked redelivered; then the empty list is forgotten. Returns how many went back.
 */
export async function restoreLandings(client: Redis, keys: KombuKeys, logger: Logger): Promise<number> {
  const members = await client.smembers(keys.landings);
  let moved = 0;
  for (const member of members) {
    const parsed = parseLandingMember(member);
    if (!parsed) {
      await client.srem(keys.landings, member);
      continue;
    }
    const alive = keys.alive(parsed.consumerId);
    if ((await client.exists(alive)) === 1) continue;
    const list = keys.landing(member);
    const target = keys.list(parsed.queue, 0);
    // Newest first (a wait pushes on the left): RPUSHed in this order, the oldest ends up served first.
    const items = await client.lrangeBuffer(list, 0, -1);
    // Moved only if the key is still gone as they move (its consumer may have waited meanwhile).
    const back = await returnLanded(client, list, items.map((raw) => ({ raw, target, pushed: pushedBack(raw, true) })), 'R', alive);
    if (back < 0) continue;
    moved += back;
    await FORGET_LANDING.run(client, [keys.landings, alive, list], [member, 'sweep']);
  }
  if (moved > 0) logger.warn(`redis broker: restored ${moved} message(s) from the landing lists of consumers that are gone`);
  return moved;
}

/** One landed element going back: onto `target` (a list key), as `pushed`. */
export interface LandedReturn {
  readonly raw: Buffer;
  readonly target: string;
  readonly pushed: string | Buffer;
}

/**
 * Moves `items` out of the landing list `list` onto their lists (broker-scripts.ts RETURN_LANDED,
 * pushed on `side`), each only if it is still there; with `unlessKey`, none if that key exists
 * (checked in the same script: a sweep's move of a consumer that is back). Returns how many
 * moved, or -1 when `unlessKey` existed.
 */
export async function returnLanded(client: Redis, list: string, items: readonly LandedReturn[], side: 'L' | 'R', unlessKey?: string): Promise<number> {
  if (items.length === 0) return 0;
  const args: (string | Buffer)[] = [list, unlessKey ?? list, ...items.map((i) => i.target), unlessKey === undefined ? '0' : '1'];
  for (const i of items) args.push(i.raw, i.pushed, side);
  return Number(await RETURN_LANDED.runFlat(client, 2 + items.length, args));
}

/**
 * How commands name a landed element: `text` (its UTF-8 decoding) when that encodes back to the
 * same bytes, else the bytes. A decoding is exact unless it replaced a malformed sequence with
 * U+FFFD; a real U+FFFD in the message falls back to the bytes too (rare, and only slower).
 */
export function landedElement(raw: Buffer, text: string): string | Buffer {
  return text.includes('\uFFFD') ? raw : text;
}

/** What goes back on a list for a landed element: marked redelivered if asked and it can be; else as it was. */
export function pushedBack(raw: Buffer, redelivered: boolean): string | Buffer {
  if (!redelivered) return raw;
  const text = raw.toString('utf8');
  // Not UTF-8 (see landedElement): the exact bytes go back, unmarked.
  if (landedElement(raw, text) === raw) return raw;
  const marked = markRedelivered(text);
  // Not an envelope that could be marked: the exact bytes go back.
  return marked === text ? raw : marked;
}
