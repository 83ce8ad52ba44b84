/**
 * The acks and rejects of one consumer channel, sent at the end of each event-loop turn, with
 * consecutive acks folded into one `basic.ack(multiple)`: a worker acknowledging early acks every
 * message in delivery order, so a turn's hundred acks become one frame (less work for RabbitMQ and
 * for this process) instead of one each.
 *
 * Delivery tags grow by one per delivery on a channel. `outstanding` holds the delivered tags not
 * settled yet, oldest first; at a flush, the settled ones at its front form the prefix one
 * multiple-ack may cover: it is sent for the newest tag of the prefix acknowledged in this flush,
 * after the rejects and the acks outside the prefix (sent one by one), so by then every earlier
 * tag in the prefix is settled and the multiple-ack covers exactly the acks of the prefix.
 */
import type { Channel, ConsumeMessage } from 'amqplib';

export class SettleBatch {
  private readonly outstanding: number[] = [];
  private head = 0;
  private readonly settled = new Set<number>();
  private acks: ConsumeMessage[] = [];
  private rejects: { msg: ConsumeMessage; requeue: boolean }[] = [];
  private scheduled = false;

  constructor(private readonly channel: Channel) {}

  /** A delivery arrived on the channel (in tag order). */
  delivered(msg: ConsumeMessage): void {
    this.outstanding.push(msg.fields.deliveryTag);
  }

  ack(msg: ConsumeMessage): void {
    this.acks.push(msg);
    this.schedule();
  }

  reject(msg: ConsumeMessage, requeue: boolean): void {
    this.rejects.push({ msg, requeue });
    this.schedule();
  }

  /** Sends what is waiting now. Throws if the channel is closed (its deliveries went back). */
  flush(): void {
    this.scheduled = false;
    const acks = this.acks;
    const rejects = this.rejects;
    this.acks = [];
    this.rejects = [];
    if (acks.length === 0 && rejects.length === 0) return;
    for (const { msg } of rejects) this.settled.add(msg.fields.deliveryTag);
    const acked = new Set<number>();
    for (const msg of acks) {
      this.settled.add(msg.fields.deliveryTag);
      acked.add(msg.fields.deliveryTag);
    }
    // The settled prefix of the outstanding tags, and the newest tag acked in it now.
    let cover: ConsumeMessage | null = null;
    const byTag = new Map(acks.map((m) => [m.fields.deliveryTag, m]));
    while (this.head < this.outstanding.length && this.settled.has(this.outstanding[this.head]!)) {
      const tag = this.outstanding[this.head++]!;
      this.settled.delete(tag);
      if (acked.has(tag)) {
        cover = byTag.get(tag)!;
        acked.delete(tag);
      }
    }
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding.splice(0, this.head);
      this.head = 0;
    }
    for (const { msg, requeue } of rejects) this.channel.reject(msg, requeue);
    // Acks beyond the prefix (an older delivery is still unsettled) go one by one.
    for (const tag of acked) this.channel.ack(byTag.get(tag)!);
    if (cover) this.channel.ack(cover, true);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      try {
        this.flush();
      } catch {
        // The channel closed meanwhile: its deliveries went back to their queues.
      }
    });
  }
}
