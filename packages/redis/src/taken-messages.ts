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
import { TAKE } from './broker-scripts.js';
import type { HeldDeliveries, Held } from './held-deliveries.js';
import { decodeEnvelope } from './kombu-envelope.js';
import { PRIORITY_STEPS, type KombuKeys } from './kombu-keys.js';
import type { TakeBatch } from './redis-consumer.js';

/** What a delivery's consumer hears when the caller settles it. */
export interface CreditSink {
  settled(): void;
}

interface Settler {
  readonly held: Held;
  readonly settle: (op: () => Promise<unknown>) => Promise<void>;
}

export class TakenMessages {
  private readonly settlers = new WeakMap<Delivery, Settler>();

  constructor(
    private readonly held: HeldDeliveries,
    private readonly keys: KombuKeys,
    private readonly logger: Logger,
  ) {}

  /** Takes up to `limit` messages from `queues` tried in `order` (indices into `queues`). */
  async take(client: Redis, consumer: CreditSink, queues: readonly string[], order: readonly number[], limit: number): Promise<TakeBatch> {
    const rotated = order.map((i) => queues[i]!);
    const k = this.keys;
    const reply = (await TAKE.run(
      client,
      [k.unacked, k.unackedIndex, k.deadLetters, k.deadLetterIndex, k.deadLetterSeq, ...rotated.flatMap((q) => k.lists(q))],
      [limit, rotated.length, `${randomUUID()}.`, ...rotated.map((q) => JSON.stringify(q)), ...rotated],
    )) as [number[], (string | number)[], string[]];
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
      const entry = `[${envelope}, "", ${JSON.stringify(queue)}]`;
      const held: Held = { tag, queue, priority: decoded.ok ? decoded.priority : step, envelope, entry, settling: false };
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
    return { order: scriptOrder.map((j) => order[j - 1]!), deliveries, deadLettered };
  }

  /** The held message behind a delivery of this broker, and how to settle it; undefined if foreign. */
  settlerOf(delivery: Delivery): Settler | undefined {
    return this.settlers.get(delivery);
  }

  /** Deliveries taken but never handed over (cancel mid-batch): back at the head, not redelivered. */
  async giveBack(deliveries: readonly Delivery[]): Promise<void> {
    const items: Held[] = [];
    for (const d of deliveries) {
      const settler = this.settlers.get(d);
      if (settler && this.held.has(settler.held)) items.push(settler.held);
      this.settlers.delete(d);
    }
    await this.held.giveBack(items, false);
  }

  private deliver(held: Held, message: RawMessage, redelivered: boolean, consumer: CreditSink): Delivery {
    let settled = false;
    const settle = async (op: () => Promise<unknown>): Promise<void> => {
      if (settled) return;
      settled = true;
      // After close() the message already went back (or stays in unacked): nothing to settle.
      if (!this.held.has(held)) return;
      held.settling = true;
      consumer.settled();
      await op();
    };
    const delivery: Delivery = {
      message,
      queue: held.queue,
      deliveryTag: held.tag,
      redelivered,
      priority: held.priority,
      ack: () => settle(() => this.held.ack(held)),
      reject: (requeue: boolean) => settle(() => (requeue ? this.held.requeue(held) : this.held.ack(held))),
    };
    this.settlers.set(delivery, { held, settle });
    return delivery;
  }
}
