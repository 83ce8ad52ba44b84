/**
 * From Redis to the caller: one atomic take (broker-scripts.ts TAKE) turned into Delivery objects,
 * and each Delivery's way to be settled exactly once.
 *
 * Every taken message is first recorded as held (held-deliveries.ts). Elements the script could
 * not even record (not JSON, no delivery tag) were dead-lettered by the script itself; envelopes
 * that are recorded but unusable (body not base64, headers not an object, ...) are dead-lettered
 * here, out of `unacked`, before the batch is handed over. Neither reaches the caller.
 */
import { randomUUID } from 'node:crypto';
import type { Delivery, Logger, RawMessage } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { ACK, TAKE } from './broker-scripts.js';
import { corked } from './corked-writes.js';
import type { AckSlot, HeldDeliveries, Held } from './held-deliveries.js';
import { RedisDelivery, type CreditSink, type Settler } from './redis-delivery.js';
import { decodeEnvelope } from './kombu-envelope.js';
import { PRIORITY_STEPS, type KombuKeys } from './kombu-keys.js';
import { ConsumerLanding, landedElement, returnLanded, suspectAfterDrop, type LandingSpot } from './landing.js';
import type { TakeBatch } from './redis-consumer.js';
import type { Lane } from './shared-lane.js';

/** What the take script returns: {order, taken, dead, acked} (broker-scripts.ts TAKE). */
type TakeReply = [number[], (string | number)[], string[], number];

interface TakeRequest {
  /** The queues in the order the script tries them. */
  readonly queues: readonly string[];
  /** How many of `all` are KEYS (the rest is ARGV). */
  readonly keyCount: number;
  readonly all: string[];
}

/** What request() reuses for one queue order: KEYS then ARGV with placeholders for the limit and prefix. */
interface TakeShape {
  readonly queues: readonly string[];
  readonly keyCount: number;
  readonly all: readonly string[];
}

/** Queue orders whose take requests are kept (more only when consumers of many queues rotate). */
const MAX_SHAPES = 64;

export class TakenMessages {
  private readonly nameCache = new Map<string, string>();
  private readonly shapes = new Map<string, TakeShape>();
  /** Dead-letter ids the take script makes are `<instance>.<take>.<n>`: unique without a UUID per take. */
  private readonly instance = randomUUID();
  private takes = 0;
  private readonly landings = new WeakMap<CreditSink, ConsumerLanding>();
  private lastLists: { readonly queues: readonly string[]; readonly lists: string[] } | null = null;

  constructor(
    private readonly held: HeldDeliveries,
    private readonly keys: KombuKeys,
    private readonly logger: Logger,
    private readonly lane: Lane,
    private readonly visibilityTimeoutS: number,
    private readonly blockTimeoutMs: number,
  ) {}

  /**
   * Takes up to `limit` messages from `queues` tried in `order` (indices into `queues`), applying
   * the acks waiting to be sent in the same script (held-deliveries.ts `reserveAcks`).
   *
   * Sent at the end of this event-loop turn (as are waits): a result write issued in the same turn
   * goes out first (result-writes.ts), since a client may be waiting for it while this process
   * still holds messages to run, and acks settled meanwhile ride along.
   */
  async take(client: Redis, consumer: CreditSink, queues: readonly string[], order: readonly number[], now?: number): Promise<TakeBatch> {
    const acks = this.held.reserveAcks();
    this.lane.expectTake();
    // Whatever happens before the take boards, the lane hears of it: writes held for it must not wait.
    let boarded = false;
    let reply: TakeReply;
    let request: TakeRequest;
    let limit: number;
    try {
      // A take asked for ahead of a batch (redis-consumer.ts run) goes at once, with its own limit.
      if (now === undefined) await endOfTurn();
      // A wait whose reply may have been lost (see waitAndTake): what landed unseen goes back first.
      const landing = this.landings.get(consumer);
      if (landing?.suspect) for (const spot of landing.suspects()) await this.reconcile(client, spot);
      limit = now ?? consumer.credit;
      if (consumer.cancelled || limit <= 0) return this.notSent(acks, order);
      const built = (request = this.request(queues, order, limit, acks.claim()));
      // The turn's result writes, when the backend shares this server (shared-lane.ts), go first
      // in the same write.
      // (runFlat issues its EVALSHA before it first awaits: inside the corked write.)
      const taking = corked(client, () => {
        boarded = true;
        // Landed messages' acks (LREMs) first, then the results (see waitAndTake); the acks of
        // messages in `unacked` run inside TAKE, after both.
        this.held.sendLandedAcks(client);
        this.lane.board(client);
        return TAKE.runFlat(client, built.keyCount, built.all);
      });
      reply = (await taking) as TakeReply;
    } catch (err) {
      acks.failed();
      throw err;
    } finally {
      if (!boarded) this.lane.board(null);
    }
    acks.applied(Number(reply[3]));
    return this.handOut(reply, request.queues, order, consumer, limit);
  }

  /**
   * Waits on `blocking` with `BLMOVE <list> <landing list> RIGHT LEFT timeout` (landing.ts): a
   * message pushed onto the empty queue leaves it for this consumer's landing list and arrives
   * with the reply, in one round trip, with no script run. `EXISTS` of all the consumer's lists
   * goes right behind it: when something is queued still (a burst, another priority, another
   * queue), the batch says so and the consumer's next step is a take; after a timeout with
   * something queued, the take runs here.
   *
   * Before the wait, in the same write: the acks waiting (ACK for messages in `unacked`, LREM for
   * landed ones), the turn's result writes (shared-lane.ts) and, when due, the landing list's
   * registration (landing.ts).
   */
  async waitAndTake(
    wait: { readonly blocking: Redis; readonly drops: () => number; readonly commands: Redis; readonly list: string; readonly timeoutS: number },
    consumer: CreditSink,
    queues: readonly string[],
    order: readonly number[],
  ): Promise<TakeBatch> {
    const acks = this.held.reserveAcks();
    this.lane.expectTake();
    // As in take(): the lane hears of this take whatever happens before it boards.
    let boarded = false;
    let spot: LandingSpot;
    // A failing wait (not a timeout) is kept to be reported below.
    let waitError: Error | null = null;
    let landed: Promise<Buffer | null>;
    let queued: Promise<number>;
    let drops = 0;
    try {
      await endOfTurn();
      // Cancelled meanwhile: a wait sent now could no longer be cut short.
      if (consumer.cancelled || consumer.credit <= 0) return this.notSent(acks, order);
      const landing = this.landingOf(consumer);
      spot = landing.spot(queues[order[0] ?? 0]!);
      // Every suspect list, not only the one waited on now: a resent wait that brought a message
      // turns the order to the next queue, and an idle consumer might never wait on this one again.
      // What goes back to another queue is taken after this wait (EXISTS says it is there).
      if (landing.suspect) {
        for (const suspect of landing.suspects()) await this.reconcile(wait.commands, suspect);
        if (consumer.cancelled || consumer.credit <= 0) return this.notSent(acks, order);
      }
      const client = wait.blocking;
      drops = wait.drops();
      const tags = acks.claim();
      const lists = this.listsOf(queues);
      [landed, queued] = corked(client, () => {
        // The acks waiting first, then the turn's result writes (shared-lane.ts), all answered at
        // once, ahead of the wait. Acks before results: Redis writes the replies of one turn to
        // the last client that got one first, so the client a result is published to hears of it
        // before this process hears of its acks and writes. (An ack here is an early one, issued
        // before its task ran; a late one waits for its result's reply.)
        boarded = true;
        if (tags.length === 0) {
          acks.applied(0);
        } else {
          client.evalsha(ACK.sha, 2, [this.keys.unacked, this.keys.unackedIndex, ...tags], (err?: Error | null, removed?: unknown) => {
            // NOSCRIPT included: sent again on their own, where the script is loaded.
            if (err) acks.failed();
            else acks.applied(Number(removed));
          });
        }
        this.held.sendLandedAcks(client);
        this.lane.board(client);
        landing.register(client, spot);
        const moved = client.blmoveBuffer(wait.list, spot.list, 'RIGHT', 'LEFT', wait.timeoutS).catch((err: Error) => {
          waitError = err;
          return null;
        });
        // A failed EXISTS (the wait's reply decides): as if something were queued, so a take looks.
        return [moved, client.exists(lists).catch(() => 1)] as const;
      });
    } catch (err) {
      acks.failed();
      throw err;
    } finally {
      if (!boarded) this.lane.board(null);
    }
    let raw: Buffer | null;
    let more: number;
    try {
      raw = await landed;
      more = waitError ? 1 : await queued;
    } finally {
      // Without a reply to the ACK (the connection dropped before it), the acks go on their own;
      // a no-op once that reply was seen.
      acks.failed();
    }
    // The connection dropped while the wait was out: ioredis sent it again once back, and the
    // first one may have moved a message whose reply was lost, or may still move one (the server
    // can hold on to a connection the client gave up). What lands unseen goes back at each step
    // until that first run has surely ended.
    if (wait.drops() !== drops) suspectAfterDrop(spot, this.blockTimeoutMs);
    if (waitError) {
      // Whether the move happened is unknown: what landed unseen goes back before the next step.
      suspectAfterDrop(spot, this.blockTimeoutMs);
      throw waitError;
    }
    // The queue waited on goes to the back, as after a take's hit (round robin between queues).
    const next = order.length > 1 ? [...order.slice(1), order[0]!] : order;
    if (raw === null) {
      if (more === 0) return { order, deliveries: [], deadLettered: 0, asked: 0, empty: true };
      return this.take(wait.commands, consumer, queues, order, consumer.credit);
    }
    const batch = await this.handOutLanded(raw, spot, consumer);
    return { order: next, ...batch, asked: 1, empty: more === 0 };
  }

  /** A message the wait landed: a delivery held in its landing list (or dead-lettered if unusable). */
  private async handOutLanded(raw: Buffer, spot: LandingSpot, consumer: CreditSink): Promise<{ deliveries: Delivery[]; deadLettered: number }> {
    const envelope = raw.toString('utf8');
    const queue = spot.queue;
    const decoded = decodeEnvelope(envelope, 0);
    if (!decoded.ok) {
      this.logger.warn(`redis broker: dead-lettering a malformed message from queue "${queue}" (${decoded.code})`);
      // An element that is not even an envelope with a tag is kept as it came (raw), as TAKE does.
      const asEnvelope = !RAW_CODES.has(decoded.code);
      try {
        await this.held.deadLetterLanded({ list: spot.list, raw, element: raw }, randomUUID(), queue, decoded.code, decoded.reason, asEnvelope);
      } catch (err) {
        // Left in the landing list: given back to the queue before the next wait, to be tried again.
        spot.suspect = true;
        this.logger.error('redis broker: could not dead-letter a landed message; it goes back to its queue', { error: (err as Error).message });
      }
      return { deliveries: [], deadLettered: 1 };
    }
    const entry = `[${envelope}, "", ${this.jsonName(queue)}]`;
    const held: Held = { tag: decoded.deliveryTag, queue, priority: decoded.priority, envelope, entry, settling: false, landing: { list: spot.list, raw, element: landedElement(raw, envelope) }, recording: null };
    this.held.add(held);
    // Not settled by the end of this turn (acks late, or waiting for a free slot): held in unacked.
    setImmediate(() => this.held.recordLanded([held]));
    return { deliveries: [this.deliver(held, decoded.message, decoded.redelivered, consumer)], deadLettered: 0 };
  }

  /**
   * After a wait that failed or crossed a dropped connection: elements of the landing list this
   * instance does not know (a wait whose reply was lost) go back to the head of their queue,
   * unmarked (nobody saw them).
   */
  private async reconcile(client: Redis, spot: LandingSpot): Promise<void> {
    await this.held.leftLanding(spot.list);
    // Such commands sent from here on go after the LRANGE on the same connection (or ride the
    // next take or wait): what they remove is still in `items`, and still known.
    const known = this.held.landedIn(spot.list); // a fresh array, used up below
    const items = await client.lrangeBuffer(spot.list, 0, -1);
    // Matched one for one: of two identical elements (a push sent twice), one may be unknown.
    const unknown = items.filter((raw) => {
      const at = known.findIndex((k) => k.equals(raw));
      if (at < 0) return true;
      known.splice(at, 1);
      return false;
    });
    const target = this.keys.list(spot.queue, 0);
    await returnLanded(client, spot.list, unknown.map((raw) => ({ raw, target, pushed: raw })), 'R');
    // Checked again at the next step while a wait from before a drop may still run (suspectUntil).
    spot.suspect = Date.now() < spot.suspectUntil;
  }

  /** The consumer's landing lists (made on its first wait). */
  private landingOf(consumer: CreditSink): ConsumerLanding {
    let landing = this.landings.get(consumer);
    if (!landing) this.landings.set(consumer, (landing = new ConsumerLanding(randomUUID(), this.keys, this.visibilityTimeoutS, this.blockTimeoutMs)));
    return landing;
  }

  /**
   * A consumer is done: what its suspect lists hold unseen goes back to its queues (there is no
   * next wait to do it), then its landing lists are forgotten (those still holding a message,
   * delivered and not yet settled, stay named). After a recent drop that waits, at most
   * `blockTimeoutMs` + 1 s, for a wait sent before it to have ended on the server: a message it
   * moved into a list already forgotten would be found by nobody.
   */
  async release(client: Redis, consumer: CreditSink): Promise<void> {
    const landing = this.landings.get(consumer);
    if (!landing) return;
    this.landings.delete(consumer);
    // A wait that the closing of the blocking connection has just rejected marks its list suspect
    // a few reactions later (waitAndTake): this turn's reactions run first.
    await endOfTurn();
    // Until no suspect list's window is still open: one marked during a sleep may end later.
    for (;;) {
      const until = Math.max(0, ...landing.suspects().map((spot) => spot.suspectUntil));
      if (until <= Date.now()) break;
      await new Promise((resolve) => setTimeout(resolve, until - Date.now()));
    }
    // Redis went away meanwhile: the lists stay named and the key expires; a sweep gives them back.
    if (client.status !== 'ready') throw new Error('the command connection is down');
    let failed: unknown = null;
    for (const spot of landing.suspects()) {
      // One that fails keeps its list named (it is not empty): a sweep gives it back once the key expires.
      await this.reconcile(client, spot).catch((err: unknown) => (failed ??= err));
    }
    await landing.release(client);
    if (failed) throw failed;
  }

  /** Every list of `queues` (EXISTS after a wait: anything queued still?). */
  private listsOf(queues: readonly string[]): string[] {
    if (this.lastLists?.queues === queues) return this.lastLists.lists;
    const lists = queues.flatMap((q) => this.keys.lists(q));
    this.lastLists = { queues, lists };
    return lists;
  }

  /** The held message behind a delivery of this broker, and how to settle it; undefined if foreign. */
  settlerOf(delivery: Delivery): Settler | undefined {
    return delivery instanceof RedisDelivery && delivery.owner === this.held && !delivery.givenBack ? delivery : undefined;
  }

  /** Deliveries taken but never handed over (cancel mid-batch): back at the head, not redelivered. */
  async giveBack(deliveries: readonly Delivery[]): Promise<void> {
    const items: Held[] = [];
    for (const d of deliveries) {
      const settler = this.settlerOf(d);
      if (!settler) continue;
      if (this.held.has(settler.held)) items.push(settler.held);
      (d as RedisDelivery).givenBack = true;
    }
    await this.held.giveBack(items, false);
  }

  /** A take dropped before it was sent: the acks it would have carried go on their own. */
  private notSent(acks: AckSlot, order: readonly number[]): TakeBatch {
    acks.failed();
    return { order, deliveries: [], deadLettered: 0, asked: 0 };
  }

  /**
   * The take script's KEYS and ARGV, and both as the one list sent. The keys and the queue names
   * depend only on the order, which stays the same from take to take for a consumer of one queue:
   * they are built once per order and each take copies them with its own limit, dead-letter id
   * prefix and acks (the copy is the take's own: a NOSCRIPT retry sends it again after an await).
   */
  private request(queues: readonly string[], order: readonly number[], limit: number, ackTags: readonly string[]): TakeRequest {
    const shape = this.shapeOf(queues, order);
    const prefix = `${this.instance}.${++this.takes}.`;
    const n = shape.keyCount;
    let all: string[];
    if (ackTags.length === 0) {
      all = shape.all.slice();
    } else {
      all = shape.all.slice(0, n + 4);
      for (let i = 0; i < ackTags.length; i++) all.push(ackTags[i]!);
      for (let i = n + 4; i < shape.all.length; i++) all.push(shape.all[i]!);
      all[n + 3] = String(ackTags.length);
    }
    all[n] = String(limit);
    all[n + 2] = prefix;
    return { queues: shape.queues, keyCount: n, all };
  }

  /** The parts of a take request that only the queue order decides (see request()). */
  private shapeOf(queues: readonly string[], order: readonly number[]): TakeShape {
    // One queue: a space and its name; several: their names as JSON, which starts with '[': the two
    // kinds of key never meet, whatever the queues are called.
    const id = order.length === 1 ? ` ${queues[order[0]!]!}` : JSON.stringify(order.map((i) => queues[i]));
    const cached = this.shapes.get(id);
    if (cached) return cached;
    const rotated = order.map((i) => queues[i]!);
    const k = this.keys;
    const keys = [k.unacked, k.unackedIndex, k.deadLetters, k.deadLetterIndex, k.deadLetterSeq];
    for (const q of rotated) keys.push(...this.keys.lists(q));
    // ARGV: limit, n (queues), dead-letter id prefix, a (acks), [acks], JSON names, plain names.
    const all = [...keys, '0', String(rotated.length), '', '0'];
    for (const q of rotated) all.push(this.jsonName(q));
    all.push(...rotated);
    const shape = { queues: rotated, keyCount: keys.length, all };
    // Bounded: one entry per order seen (a consumer of n queues rotates through n orders).
    if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
    this.shapes.set(id, shape);
    return shape;
  }

  /** Turns a take script's reply into deliveries (dead-lettering the unusable ones). */
  private async handOut(reply: TakeReply, rotated: readonly string[], order: readonly number[], consumer: CreditSink, asked: number): Promise<TakeBatch> {
    const [scriptOrder, taken, dead] = reply;
    let deadLettered = dead.length / 3;
    for (let i = 0; i < dead.length; i += 3) {
      this.logger.warn(`redis broker: dead-lettered a malformed message from queue "${dead[i + 1]}" (${dead[i + 2]}) as ${dead[i]}`);
    }
    const deliveries: Delivery[] = [];
    for (let i = 0; i < taken.length; i += 4) {
      const queue = rotated[Number(taken[i]) - 1]!;
      const step = PRIORITY_STEPS[Number(taken[i + 1]) - 1] ?? 0;
      const tag = String(taken[i + 2]);
      const envelope = String(taken[i + 3]);
      const decoded = decodeEnvelope(envelope, step);
      // The entry exactly as the script wrote it: every later move out of unacked compares it.
      const entry = `[${envelope}, "", ${this.jsonName(queue)}]`;
      const held: Held = { tag, queue, priority: decoded.ok ? decoded.priority : step, envelope, entry, settling: false, landing: null, recording: null };
      this.held.add(held);
      if (decoded.ok) {
        deliveries.push(this.deliver(held, decoded.message, decoded.redelivered, consumer));
        continue;
      }
      deadLettered++;
      this.logger.warn(`redis broker: dead-lettering malformed message ${tag} from queue "${queue}" (${decoded.code})`);
      try {
        await this.held.deadLetter(held, randomUUID(), decoded.code, decoded.reason);
      } catch (err) {
        // Left in unacked, no longer renewed: the restore sweep brings it back to try again.
        this.held.forget(held);
        this.logger.error(`redis broker: could not dead-letter ${tag}; it comes back after the visibility timeout`, { error: (err as Error).message });
      }
    }
    return { order: scriptOrder.map((j) => order[j - 1]!), deliveries, deadLettered, asked };
  }

  private jsonName(queue: string): string {
    let name = this.nameCache.get(queue);
    if (name === undefined) this.nameCache.set(queue, (name = JSON.stringify(queue)));
    return name;
  }

  private deliver(held: Held, message: RawMessage, redelivered: boolean, consumer: CreditSink): Delivery {
    return new RedisDelivery(message, redelivered, held, this.held, consumer);
  }
}

/** decodeEnvelope codes for an element that is not an envelope with a tag: dead-lettered as `raw`. */
const RAW_CODES = new Set(['bad-message:envelope-not-json', 'bad-message:envelope-no-properties', 'bad-message:envelope-no-delivery-tag']);

/** Resolves in the check phase of this event-loop turn, after what the turn's I/O started. */
function endOfTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
