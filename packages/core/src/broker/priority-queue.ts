/**
 * Ten FIFO buckets, one per priority 0–9, served highest first. Used by the in-memory broker.
 * Each bucket is an array with a moving head index, so shift() is O(1) amortised.
 */
import type { RawMessage } from '../protocol/task-message.js';

export interface QueuedMessage {
  message: RawMessage;
  priority: number;
  redelivered: boolean;
  tag: string;
}

export const MAX_PRIORITY = 9;

/** Clamps a priority into 0–9; missing or invalid values are 0. */
export function clampPriority(priority: number | null | undefined): number {
  if (typeof priority !== 'number' || !Number.isFinite(priority)) return 0;
  return Math.min(MAX_PRIORITY, Math.max(0, Math.trunc(priority)));
}

class Bucket {
  private items: QueuedMessage[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: QueuedMessage): void {
    this.items.push(item);
  }
  pushFront(item: QueuedMessage): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }
  shift(): QueuedMessage | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  clear(): number {
    const n = this.size;
    this.items = [];
    this.head = 0;
    return n;
  }
}

export class PriorityQueue {
  private readonly buckets = Array.from({ length: MAX_PRIORITY + 1 }, () => new Bucket());
  get size(): number {
    return this.buckets.reduce((n, b) => n + b.size, 0);
  }
  push(item: QueuedMessage): void {
    this.buckets[item.priority]!.push(item);
  }
  pushFront(item: QueuedMessage): void {
    this.buckets[item.priority]!.pushFront(item);
  }
  shift(): QueuedMessage | undefined {
    for (let p = MAX_PRIORITY; p >= 0; p--) {
      const item = this.buckets[p]!.shift();
      if (item) return item;
    }
    return undefined;
  }
  clear(): number {
    return this.buckets.reduce((n, b) => n + b.clear(), 0);
  }
}
