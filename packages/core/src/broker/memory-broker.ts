/**
 * The in-memory broker: one process, nothing persisted. The fixture for unit tests of core logic,
 * and a correct broker in its own right (it passes the conformance suite).
 *
 * URL: `memory://` (each URL resolution makes a new, empty broker).
 * Capabilities: native delay, priorities 0–9 (higher first), no fanout, not shared or persistent.
 */
import { randomUUID } from 'node:crypto';
import { ClosedError, StateError } from '../errors.js';
import type { RawMessage } from '../protocol/task-message.js';
import type {
  Broker,
  BrokerCapabilities,
  ConsumeOptions,
  Consumer,
  DeadLetterEntry,
  DeadLetterReason,
  Delivery,
  ListDeadLettersOptions,
  OutgoingMessage,
  PublishOptions,
} from './broker.js';
import { checkPrefetch } from './broker.js';
import { clampPriority, PriorityQueue, type QueuedMessage } from './priority-queue.js';

interface ConsumerState {
  queues: readonly string[];
  onDelivery: (delivery: Delivery) => void;
  prefetch: number;
  unsettled: number;
  cancelled: boolean;
  /** Rotates the queue order so several queues are served fairly. */
  next: number;
}

export class MemoryBroker implements Broker {
  readonly capabilities: BrokerCapabilities = {
    nativeDelay: true,
    priority: true,
    priorityOrder: 'higher-first',
    fanout: false,
    nativeDeadLetter: false,
    persistent: false,
    shared: false,
  };
  private readonly queues = new Map<string, PriorityQueue>();
  private readonly consumers: ConsumerState[] = [];
  /** Delayed messages (countdown/ETA) waiting for their timer, by timer. */
  private readonly delayed = new Map<NodeJS.Timeout, string>();
  private readonly unsettled = new Map<string, { queue: string; item: QueuedMessage }>();
  private readonly deadLetters = new Map<string, DeadLetterEntry>();
  /** Each delivery's key in `unsettled`, to tell whether it is still held. */
  private readonly deliveryKeys = new WeakMap<Delivery, string>();
  private closed = false;
  private dispatching = false;

  async connect(): Promise<void> {
    if (this.closed) throw new ClosedError('the memory broker');
  }

  async publish(message: RawMessage, options: PublishOptions): Promise<void> {
    if (this.closed) throw new ClosedError('the memory broker');
    const item: QueuedMessage = { message: cloneMessage(message), priority: clampPriority(options.priority), redelivered: false, tag: randomUUID() };
    const delay = options.notBefore ? options.notBefore.getTime() - Date.now() : 0;
    if (delay > 0) {
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        this.enqueue(options.queue, item);
      }, delay);
      timer.unref();
      this.delayed.set(timer, options.queue);
      return;
    }
    this.enqueue(options.queue, item);
  }

  async publishMany(messages: readonly OutgoingMessage[]): Promise<void> {
    for (const m of messages) await this.publish(m.message, m.options);
  }

  async consume(queues: readonly string[], onDelivery: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Consumer> {
    if (this.closed) throw new ClosedError('the memory broker');
    const state: ConsumerState = { queues: [...queues], onDelivery, prefetch: checkPrefetch(options.prefetch), unsettled: 0, cancelled: false, next: 0 };
    this.consumers.push(state);
    queueMicrotask(() => this.dispatch());
    return {
      setPrefetch: (prefetch: number) => {
        state.prefetch = checkPrefetch(prefetch);
        this.dispatch();
      },
      cancel: async () => {
        state.cancelled = true;
        const i = this.consumers.indexOf(state);
        if (i >= 0) this.consumers.splice(i, 1);
      },
    };
  }

  async purge(queue: string): Promise<number> {
    let purged = this.queues.get(queue)?.clear() ?? 0;
    for (const [timer, name] of this.delayed) {
      if (name !== queue) continue;
      clearTimeout(timer);
      this.delayed.delete(timer);
      purged++;
    }
    return purged;
  }

  async size(queue: string): Promise<number> {
    let delayed = 0;
    for (const name of this.delayed.values()) if (name === queue) delayed++;
    return (this.queues.get(queue)?.size ?? 0) + delayed;
  }

  async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
    if (this.closed) return; // close() gave every unsettled message back already
    const key = this.deliveryKeys.get(delivery);
    if (key === undefined || !this.unsettled.has(key)) {
      throw new StateError(`the message was already settled (acknowledged or rejected), or was not delivered by this broker; it can no longer be dead-lettered (queue "${delivery.queue}", delivery ${delivery.deliveryTag})`);
    }
    const id = randomUUID();
    this.deadLetters.set(id, {
      id,
      queue: delivery.queue,
      reason: { code: reason.code, message: reason.message },
      deadLetteredAt: new Date(),
      message: cloneMessage(delivery.message),
      raw: null,
    });
    await delivery.ack();
  }

  async listDeadLetters(options: ListDeadLettersOptions = {}): Promise<DeadLetterEntry[]> {
    const all = [...this.deadLetters.values()].filter((e) => !options.queue || e.queue === options.queue);
    return all.slice(0, options.limit ?? 100);
  }

  async replayDeadLetter(id: string): Promise<boolean> {
    const entry = this.deadLetters.get(id);
    if (!entry || !entry.message) return false;
    this.deadLetters.delete(id);
    await this.publish(entry.message, { queue: entry.queue, priority: Number(entry.message.properties['priority'] ?? 0) });
    return true;
  }

  async deleteDeadLetter(id: string): Promise<boolean> {
    return this.deadLetters.delete(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.delayed.keys()) clearTimeout(t);
    this.delayed.clear();
    this.consumers.length = 0;
    // What was delivered and never settled goes back, as a broker connection closing would do.
    for (const { queue, item } of this.unsettled.values()) this.queueFor(queue).pushFront({ ...item, redelivered: true });
    this.unsettled.clear();
  }

  private queueFor(name: string): PriorityQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = new PriorityQueue();
      this.queues.set(name, q);
    }
    return q;
  }

  private enqueue(queue: string, item: QueuedMessage): void {
    if (this.closed) return;
    this.queueFor(queue).push(item);
    this.dispatch();
  }

  private dispatch(): void {
    if (this.dispatching || this.closed) return;
    this.dispatching = true;
    try {
      let delivered = true;
      while (delivered) {
        delivered = false;
        for (const c of [...this.consumers]) {
          if (c.cancelled || c.unsettled >= c.prefetch) continue;
          const taken = this.take(c);
          if (!taken) continue;
          delivered = true;
          c.unsettled++;
          c.onDelivery(this.makeDelivery(c, taken.queue, taken.item));
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private take(c: ConsumerState): { queue: string; item: QueuedMessage } | null {
    for (let i = 0; i < c.queues.length; i++) {
      const name = c.queues[(c.next + i) % c.queues.length]!;
      const item = this.queues.get(name)?.shift();
      if (item) {
        c.next = (c.next + i + 1) % c.queues.length;
        return { queue: name, item };
      }
    }
    return null;
  }

  private makeDelivery(c: ConsumerState, queue: string, item: QueuedMessage): Delivery {
    const key = randomUUID();
    this.unsettled.set(key, { queue, item });
    let settled = false;
    const settle = (requeue: boolean): Promise<void> => {
      if (settled) return Promise.resolve();
      settled = true;
      if (!this.unsettled.delete(key)) return Promise.resolve(); // the broker closed and already requeued it
      c.unsettled--;
      if (!requeue) {
        this.dispatch();
        return Promise.resolve();
      }
      // Put back on the next turn of the event loop, not now: a consumer that rejects inside its
      // handler would otherwise be handed the same message again by the running dispatch loop.
      return new Promise((resolve) =>
        setImmediate(() => {
          this.queueFor(queue).pushFront({ ...item, redelivered: true });
          resolve();
          this.dispatch();
        }),
      );
    };
    const delivery: Delivery = {
      message: cloneMessage(item.message),
      queue,
      deliveryTag: item.tag,
      redelivered: item.redelivered,
      priority: item.priority,
      ack: () => settle(false),
      reject: (requeue: boolean) => settle(requeue),
    };
    this.deliveryKeys.set(delivery, key);
    return delivery;
  }
}

function cloneMessage(m: RawMessage): RawMessage {
  return structuredClone(m);
}
