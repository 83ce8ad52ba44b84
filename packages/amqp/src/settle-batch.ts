/**
 * The acks and rejects of one consumer channel, sent at the end of each event-loop turn, with
 * acks folded into one `basic.ack(multiple)` where they may be: a worker acknowledging early acks
 * every message in delivery order, so a turn's hundred acks become one frame (less work for
 * RabbitMQ and for this process) instead of one each.
 *
 * `unsettled` holds the tags handed over and not settled yet, in delivery order (tags grow by one
 * per delivery on a channel), so its first entry is the oldest unsettled delivery. A multiple-ack
 * for tag T settles every outstanding delivery up to T: it is sent for the newest tag acked in this
 * flush that is older than every delivery still unsettled, and covers the flush's other acks below
 * that bound (no frame of their own); acks above it go one by one, after the rejects. Memory is bounded by what is unsettled (prefetch plus held messages).
 */
import type { Channel, ConsumeMessage } from 'amqplib';

export class SettleBatch {
  private readonly unsettled = new Set<number>();
  private acks: ConsumeMessage[] = [];
  private rejects: { msg: ConsumeMessage; requeue: boolean }[] = [];
  private scheduled = false;

  constructor(private readonly channel: Channel) {}

  /** A delivery is handed over (in tag order). */
  delivered(msg: ConsumeMessage): void {
    this.unsettled.add(msg.fields.deliveryTag);
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
    for (const { msg } of rejects) this.unsettled.delete(msg.fields.deliveryTag);
    for (const msg of acks) this.unsettled.delete(msg.fields.deliveryTag);
    // The oldest delivery still unsettled bounds what one multiple-ack may cover.
    const oldest = this.unsettled.values().next();
    const bound = oldest.done ? Infinity : oldest.value;
    // The newest ack below the bound settles, as a multiple-ack, every older delivery (all of them
    // are settled now or were before); acks above it go one by one, after the rejects.
    let cover: ConsumeMessage | null = null;
    const single: ConsumeMessage[] = [];
    for (const msg of acks) {
      if (msg.fields.deliveryTag > bound) single.push(msg);
      else if (!cover || msg.fields.deliveryTag > cover.fields.deliveryTag) cover = msg;
    }
    for (const { msg, requeue } of rejects) this.channel.reject(msg, requeue);
    for (const msg of single) this.channel.ack(msg);
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
