/**
 * The messages this broker instance has taken and not yet settled, and the operations that settle
 * them. Each is recorded in Redis's `unacked` hash under its delivery tag, with an entry whose
 * exact text this process knows (`[envelope, "", "<queue>"]`), which lets every move out of
 * `unacked` be a compare-and-set (broker-scripts.ts).
 *
 * - ack = ZREM `unacked_index` + HDEL `unacked`, as kombu, in one script (broker-scripts.ts ACK).
 *   Acks issued in the same event-loop turn share one round trip, and a take issued meanwhile
 *   carries them (`reserveAcks`): a consumer settling one message and asking for the next pays one
 *   round trip for both. A message still in its landing list (landing.ts) is acknowledged by an
 *   LREM from that list instead, carried the same way (`sendLandedAcks`); one left unsettled at
 *   the end of the turn it landed in is recorded in `unacked` (`recordLanded`), and any other
 *   settle waits for that record first.
 * - reject with requeue = LPUSH the envelope, marked redelivered, onto its priority list (the back
 *   of the queue, as kombu), then the ack, in one script.
 * - dead letter = move into celeriac's dead-letter hash, in one script.
 * - give back (cancel mid-batch, close) = RPUSH (consumed next), marked redelivered unless the
 *   message was never handed to the caller.
 *
 * A settle that fails because Redis is away is tried again until it succeeds (redis-retry.ts);
 * meanwhile the message stays in `unacked`, renewed while this process lives, so at worst it is
 * delivered again after the visibility timeout if this process ends first.
 */
import type { Logger } from '@celeriac/core';
import type { BrokerConnection } from './broker-connection.js';
import type { Redis } from 'ioredis';
import { ACK, DEAD_LETTER, DEAD_LETTER_LANDED, MOVE_BACK, RECORD_LANDED, RENEW } from './broker-scripts.js';
import { markRedelivered } from './kombu-envelope.js';
import { pushedBack, returnLanded } from './landing.js';
import type { KombuKeys } from './kombu-keys.js';
import { retryRedis } from './redis-retry.js';

export interface Held {
  readonly tag: string;
  readonly queue: string;
  /** The message's priority (0–9): which list a requeue goes to. */
  readonly priority: number;
  /** The envelope text exactly as it was taken. */
  readonly envelope: string;
  /** The `unacked` entry text exactly as the take script wrote it. */
  readonly entry: string;
  /** Set once the caller settled it (the settle may still be on its way to Redis). */
  settling: boolean;
  /** Still in its landing list (landing.ts), not in `unacked`: where, and the exact element. */
  landing: Landed | null;
  /** Its record from the landing list into `unacked`, while on its way. */
  recording: Promise<void> | null;
}

export interface Landed {
  readonly list: string;
  readonly raw: Buffer;
  /**
   * The element as commands name it (LREM, the record into `unacked`): its text when that is the
   * same bytes (landing.ts `landedElement`), which ioredis sends without assembling a buffer.
   */
  readonly element: string | Buffer;
}

interface PendingAck {
  readonly held: Held;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** A take's hold on the acks waiting to be sent (see `reserveAcks`). */
export interface AckSlot {
  /** The delivery tags the take carries: the acks waiting now (called once, as it is sent). */
  claim(): readonly string[];
  /** The script ran: `removed` of the tags were still in `unacked`. */
  applied(removed: number): void;
  /** The script failed: the acks go back to be sent on their own (with retries). A no-op after `applied`. */
  failed(): void;
}

/** Most tags in one ack round trip / renewal command. */
const ACK_CHUNK = 2000;
const RENEW_CHUNK = 1000;
const MOVE_CHUNK = 200;

export class HeldDeliveries {
  private readonly held = new Set<Held>();
  /** Commands taking landed messages out of their lists, by list, until they settle (leftLanding). */
  private readonly leaving = new Map<string, Set<Promise<void>>>();
  private pending: PendingAck[] = [];
  /** Acks of messages still in their landing list (an LREM each), waiting to be sent. */
  private landedAcks: PendingAck[] = [];
  /** Landed acks sent riding a take or wait, until their replies. */
  private readonly riding = new Set<Promise<void>>();
  private flushing: Promise<void> | null = null;
  /** Takes in flight on the command connection (each carries the acks pending when it started). */
  private takes = 0;
  /** drain() callers waiting for the takes in flight to end. */
  private readonly takesDone: (() => void)[] = [];

  constructor(
    private readonly conn: BrokerConnection,
    private readonly keys: KombuKeys,
    private readonly logger: Logger,
    /** True once the broker gave up on Redis (closed): retries stop. */
    private readonly stopped: () => boolean,
  ) {}

  get size(): number {
    return this.held.size;
  }

  add(held: Held): void {
    this.held.add(held);
  }

  has(held: Held): boolean {
    return this.held.has(held);
  }

  /** Stops tracking one message without touching Redis: it stays in `unacked`, no longer renewed. */
  forget(held: Held): void {
    this.held.delete(held);
  }

  /** Forgets messages without touching Redis (the broker closed; they stay in `unacked`). */
  forgetAll(): Held[] {
    const all = [...this.held];
    this.held.clear();
    return all;
  }

  ack(held: Held): Promise<void> {
    // Being recorded into unacked: acknowledged there once it is.
    if (held.recording) return held.recording.then(() => this.ack(held));
    return new Promise<void>((resolve, reject) => {
      (held.landing ? this.landedAcks : this.pending).push({ held, resolve, reject });
      // With a take decided on, it carries this ack (see reserveAcks).
      if (this.takes === 0) this.scheduleFlush();
    });
  }

  /**
   * Issues on `client` (inside a take's or wait's corked write) the landed acks waiting now: an
   * LREM each, settled by its own reply; one that fails goes again on its own, with retries.
   */
  sendLandedAcks(client: Redis): void {
    if (this.landedAcks.length === 0) return;
    const batch = this.landedAcks;
    this.landedAcks = [];
    for (const p of batch) {
      const { list, element } = p.held.landing!;
      const sent = new Promise<void>((done) => {
        client.lrem(list, 1, element, (err?: Error | null, removed?: number) => {
          if (err) {
            this.landedAcks.push(p);
            this.scheduleFlush();
          } else {
            this.settleLanded(p, Number(removed));
          }
          done();
        });
      });
      this.riding.add(sent);
      void sent.then(() => this.riding.delete(sent));
      // Ahead of its take or wait on that connection: replied to at once, even before a wait blocks.
      void this.leave(sent, [list]);
    }
  }

  /**
   * Records in `unacked` the landed messages among `items` that are still unsettled (the end of
   * the turn they landed in): from then on they are held as any taken message. One that had left
   * its landing list (a sweep gave it back) is no longer ours.
   */
  recordLanded(items: readonly Held[]): void {
    const todo = items.filter((h) => h.landing && !h.settling && !h.recording && this.held.has(h));
    if (todo.length === 0) return;
    const list = todo[0]!.landing!.list;
    const args: (string | Buffer)[] = [list, this.keys.unacked, this.keys.unackedIndex];
    for (const h of todo) args.push(h.landing!.element, h.tag, h.entry);
    const recording = this.leave(this.retry(`recording ${todo.length} landed message(s)`, () => RECORD_LANDED.runFlat(this.conn.client, 3, args)), [list]).then(
      (replies) => {
        todo.forEach((h, i) => {
          h.recording = null;
          if (Number((replies as unknown[])[i]) === 1) {
            h.landing = null;
          } else {
            this.held.delete(h);
            this.lost(h, 'recorded as held');
          }
        });
      },
      (err: unknown) => {
        // Fatal, or the broker closed: they stay in the landing list, given back by a sweep once
        // this consumer is gone.
        for (const h of todo) h.recording = null;
        this.logger.warn('redis broker: could not record landed messages in unacked; they stay in their landing list', { error: (err as Error).message });
      },
    );
    for (const h of todo) h.recording = recording;
  }

  /**
   * Moves a landed element that is not a usable message straight to the dead letters (no held
   * entry was made for it). False when it had left the landing list meanwhile.
   */
  async deadLetterLanded(landed: Landed, id: string, queue: string, code: string, message: string, asEnvelope: boolean): Promise<boolean> {
    const { keys } = this;
    const moved = await this.leave(
      this.retry(`dead-lettering a landed message`, () =>
        DEAD_LETTER_LANDED.runFlat(this.conn.client, 4, [landed.list, keys.deadLetters, keys.deadLetterIndex, keys.deadLetterSeq, landed.raw, id, queue, '0', code, message, asEnvelope ? '1' : '0']),
      ),
      [landed.list],
    );
    return Number(moved) === 1;
  }

  /**
   * Resolves once no command sent to take a landed message out of `list` (record into `unacked`,
   * ack, requeue, dead-letter; on the command connection or riding a take or wait) awaits its
   * reply. Until that reply the message is still held as landed though Redis may have moved it,
   * and a copy with the same bytes left in the list would pass for it. Only the list's consumer
   * sends such commands, so this is bounded by its own messages. Acks queued meanwhile to ride
   * the next take or wait are sent after the caller's LRANGE.
   */
  async leftLanding(list: string): Promise<void> {
    for (let ops = this.leaving.get(list); ops && ops.size > 0; ops = this.leaving.get(list)) await Promise.all([...ops]);
  }

  /** Tracks `op`, a command taking landed messages out of `lists`, until it settles (see leftLanding). */
  private leave<T>(op: Promise<T>, lists: Iterable<string>): Promise<T> {
    const done: Promise<void> = op.then(
      () => undefined,
      () => undefined,
    );
    for (const list of new Set(lists)) {
      let ops = this.leaving.get(list);
      if (!ops) this.leaving.set(list, (ops = new Set()));
      ops.add(done);
      void done.then(() => {
        ops.delete(done);
        if (ops.size === 0 && this.leaving.get(list) === ops) this.leaving.delete(list);
      });
    }
    return op;
  }

  /** Landed elements of `list` this instance knows (handed over or about to be). */
  landedIn(list: string): Buffer[] {
    const out: Buffer[] = [];
    for (const h of this.held) if (h.landing?.list === list) out.push(h.landing.raw);
    return out;
  }

  private settleLanded(p: PendingAck, removed: number): void {
    if (removed < 1) {
      this.logger.warn(`redis broker: acknowledged message ${p.held.tag} had already left its landing list (given back by a sweep?): it may run twice`);
    }
    this.held.delete(p.held);
    p.resolve();
  }

  /**
   * Called when a take is decided on: acks issued from now on wait for it instead of going on
   * their own, and `claim()`, as the take is sent, hands over everything waiting by then, for the
   * take script to apply before it takes (broker-scripts.ts TAKE). The caller reports how that
   * went through `applied` or `failed`. Acks issued while a take is on its way wait for the next
   * one (a consumer takes again as soon as a settle frees credit), or are sent on their own once
   * no take is left in flight.
   */
  reserveAcks(): AckSlot {
    this.takes++;
    let batch: PendingAck[] = [];
    let open = true;
    const close = () => {
      if (!open) return false;
      open = false;
      if (--this.takes === 0) {
        // Sent on their own unless a take started in the meantime claims them first.
        if (this.pending.length > 0 || this.landedAcks.length > 0) this.scheduleFlush();
        for (const wake of this.takesDone.splice(0)) wake();
      }
      return true;
    };
    return {
      claim: () => {
        if (open && batch.length === 0) batch = this.pending.splice(0, ACK_CHUNK);
        return batch.map((p) => p.held.tag);
      },
      applied: (removed) => {
        if (close()) this.settleBatch(batch, removed);
      },
      failed: () => {
        if (!close()) return;
        // Sent again on their own, where connection errors are retried until Redis is back.
        this.pending.unshift(...batch);
        this.scheduleFlush();
      },
    };
  }

  /** Resolves once every ack issued so far has been applied (or has failed). */
  async drain(): Promise<void> {
    for (;;) {
      if (this.flushing) await this.flushing;
      else if (this.takes > 0) await new Promise<void>((resolve) => this.takesDone.push(resolve));
      else if (this.riding.size > 0) await Promise.all([...this.riding]);
      else if (this.pending.length > 0 || this.landedAcks.length > 0) this.scheduleFlush();
      else return;
    }
  }

  async requeue(held: Held): Promise<void> {
    if (held.recording) await held.recording;
    const moved = held.landing ? await this.returnLanded([held], 'L', true) : await this.move([held], 'L', true);
    if (moved === 0) this.lost(held, 'requeued');
  }

  /** Moves the message to the dead letters under `id`. False if it was no longer ours. */
  async deadLetter(held: Held, id: string, code: string, message: string): Promise<boolean> {
    if (held.recording) await held.recording;
    if (held.landing) {
      const moved = await this.deadLetterLanded(held.landing, id, held.queue, code, message, true);
      this.held.delete(held);
      if (!moved) this.lost(held, 'dead-lettered');
      return moved;
    }
    const { keys } = this;
    const moved = await this.retry(`dead-lettering ${held.tag}`, () =>
      DEAD_LETTER.run(this.conn.client, [keys.unacked, keys.unackedIndex, keys.deadLetters, keys.deadLetterIndex, keys.deadLetterSeq], [
        held.tag, held.entry, id, held.queue, held.priority, code, message, held.envelope,
      ]),
    );
    this.held.delete(held);
    if (moved !== 1) this.lost(held, 'dead-lettered');
    return moved === 1;
  }

  /**
   * Puts messages back at the head of their queues, first one served first. `redelivered` marks
   * them as kombu's restore does; false for messages the caller never saw.
   */
  async giveBack(items: readonly Held[], redelivered: boolean): Promise<number> {
    const recordings = items.filter((h) => h.recording).map((h) => h.recording);
    if (recordings.length > 0) await Promise.all(recordings);
    const landed = items.filter((h) => h.landing);
    const unacked = landed.length === 0 ? items : items.filter((h) => !h.landing);
    let moved = 0;
    for (let i = 0; i < unacked.length; i += MOVE_CHUNK) {
      moved += await this.move(unacked.slice(i, i + MOVE_CHUNK), 'R', redelivered);
    }
    if (landed.length > 0) moved += await this.returnLanded(landed, 'R', redelivered);
    return moved;
  }

  /** Refreshes the `unacked_index` score of everything held in `unacked`, so no restore sweep takes it. */
  async renew(): Promise<void> {
    const tags: string[] = [];
    for (const h of this.held) if (!h.landing) tags.push(h.tag);
    for (let i = 0; i < tags.length; i += RENEW_CHUNK) {
      await RENEW.run(this.conn.client, [this.keys.unackedIndex], tags.slice(i, i + RENEW_CHUNK));
    }
  }

  private async move(items: readonly Held[], side: 'L' | 'R', redelivered: boolean): Promise<number> {
    const { keys } = this;
    // RPUSH one by one puts the last pushed at the head: push in reverse to keep their order.
    const ordered = side === 'R' ? [...items].reverse() : items;
    const listKeys = ordered.map((h) => keys.list(h.queue, h.priority));
    const args = ordered.flatMap((h) => [h.tag, h.entry, redelivered ? markRedelivered(h.envelope) : h.envelope, side]);
    const moved = await this.retry(`giving back ${items.length} message(s)`, () =>
      MOVE_BACK.run(this.conn.client, [keys.unacked, keys.unackedIndex, ...listKeys], args),
    );
    for (const h of items) this.held.delete(h);
    return Number(moved);
  }

  /** Moves landed messages from their landing lists back onto their queues' lists (see move()). */
  private async returnLanded(items: readonly Held[], side: 'L' | 'R', redelivered: boolean): Promise<number> {
    // Settled from here on: the end-of-turn record (recordLanded) must not race this move.
    for (const h of items) h.settling = true;
    const ordered = side === 'R' ? [...items].reverse() : items;
    let moved = 0;
    // One script call per landing list (a consumer's give-back is one list).
    const byList = new Map<string, Held[]>();
    for (const h of ordered) byList.set(h.landing!.list, [...(byList.get(h.landing!.list) ?? []), h]);
    for (const [list, group] of byList) {
      const back = group.map((h) => ({ raw: h.landing!.raw, target: this.keys.list(h.queue, h.priority), pushed: pushedBack(h.landing!.raw, redelivered) }));
      moved += await this.leave(this.retry(`giving back ${group.length} landed message(s)`, () => returnLanded(this.conn.client, list, back, side)), [list]);
    }
    for (const h of items) this.held.delete(h);
    return moved;
  }

  private scheduleFlush(): void {
    if (!this.flushing) this.flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
  }

  private settleBatch(batch: readonly PendingAck[], removed: number): void {
    if (removed < batch.length) {
      this.logger.warn(`redis broker: ${batch.length - removed} acknowledged message(s) had already left unacked (restored after the visibility timeout?): they may run twice`);
    }
    for (const p of batch) {
      this.held.delete(p.held);
      p.resolve();
    }
  }

  private async flush(): Promise<void> {
    // A take that starts meanwhile carries what is left.
    while (this.landedAcks.length > 0 && this.takes === 0) {
      const batch = this.landedAcks.splice(0);
      await this.leave(Promise.all(
        batch.map(({ held }, i) =>
          this.retry(`acknowledging ${held.tag}`, () => this.conn.client.lrem(held.landing!.list, 1, held.landing!.element)).then(
            (removed) => this.settleLanded(batch[i]!, Number(removed)),
            (err: unknown) => {
              // Fatal, or the broker closed: it stays in its landing list, given back by a sweep.
              this.held.delete(held);
              batch[i]!.reject(err);
            },
          ),
        ),
      ), batch.map(({ held }) => held.landing!.list));
    }
    while (this.pending.length > 0 && this.takes === 0) {
      const batch = this.pending.splice(0, ACK_CHUNK);
      const tags = batch.map((p) => p.held.tag);
      try {
        const removed = await this.retry(`acknowledging ${tags.length} message(s)`, () => ACK.run(this.conn.client, [this.keys.unacked, this.keys.unackedIndex], tags));
        this.settleBatch(batch, Number(removed));
      } catch (err) {
        // Fatal, or the broker closed: the messages stay in unacked and come back after the
        // visibility timeout.
        for (const p of batch) {
          this.held.delete(p.held);
          p.reject(err);
        }
      }
    }
    this.flushing = null;
  }

  private retry<T>(what: string, op: () => Promise<T>): Promise<T> {
    return retryRedis(op, { stopped: this.stopped, logger: this.logger, what });
  }

  private lost(held: Held, what: string): void {
    this.logger.warn(`redis broker: message ${held.tag} on "${held.queue}" was not ${what}: it had left unacked (restored after the visibility timeout?) and another consumer may have it`);
  }
}
