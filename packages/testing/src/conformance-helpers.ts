/**
 * Small tools the conformance suites share: sample messages, a delivery inbox that can be awaited,
 * a bounded wait, and the skip bookkeeping. Nothing here knows about a particular broker.
 */
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { Delivery, RawMessage } from '@celeriac/core';

/** How long the suites wait for things, in milliseconds. */
export interface Waits {
  /** Longest wait for something that must happen (a delivery, a watch waking). */
  readonly timeoutMs: number;
  /** How long to watch for something that must NOT happen (an extra delivery past the prefetch). */
  readonly quietMs: number;
}

/** A queue name no other test (or earlier run against the same store) uses. */
export function uniqueQueue(label: string): string {
  return `conformance.${label}.${randomUUID()}`;
}

/** A task message with non-trivial headers, properties and body; `tag` ends up in headers and body. */
export function sampleMessage(tag: string, extra: { priority?: number } = {}): RawMessage {
  const id = randomUUID();
  const properties: Record<string, unknown> = {
    correlation_id: id,
    reply_to: randomUUID(),
    delivery_mode: 2,
  };
  if (extra.priority !== undefined) properties['priority'] = extra.priority;
  return {
    headers: {
      lang: 'js',
      task: 'conformance.sample',
      id,
      eta: null,
      retries: 0,
      timelimit: [null, null],
      tag,
      nested: { list: [1, 'two', { three: 3 }], unicode: 'naïve ✓', nothing: null },
    },
    properties,
    body: JSON.stringify([[tag, 1.5], { key: 'value' }, { callbacks: null, errbacks: null, chain: null, chord: null }]),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
  };
}

/** The `tag` a sample message was made with. */
export function tagOf(delivery: Delivery): string {
  return String(delivery.message.headers['tag']);
}

/** Resolves with `promise`, or rejects naming `what` when it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; rejects naming `what` after `ms`. */
export async function eventually(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Collects deliveries as a consumer receives them, so a test can await "the next one" or "n of
 * them" and check how many arrived. `unsettled` counts deliveries not yet acked or rejected
 * through this inbox, and `maxUnsettled` the highest it ever reached (the prefetch check).
 */
export class Inbox {
  readonly received: Delivery[] = [];
  unsettled = 0;
  maxUnsettled = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly settled = new WeakSet<Delivery>();

  /** Pass this to `broker.consume()`. */
  readonly onDelivery = (delivery: Delivery): void => {
    this.received.push(delivery);
    this.unsettled++;
    this.maxUnsettled = Math.max(this.maxUnsettled, this.unsettled);
    for (const wake of this.waiters.splice(0)) wake();
  };

  /** Waits until at least `n` deliveries arrived in total; returns all of them. */
  async waitFor(n: number, waits: Waits, what = `${n} deliveries`): Promise<Delivery[]> {
    const arrived = new Promise<void>((resolve) => {
      const check = () => (this.received.length >= n ? resolve() : this.waiters.push(check));
      check();
    });
    await within(arrived, waits.timeoutMs, `${what} (got ${this.received.length})`);
    return this.received.slice(0, n);
  }

  async ack(delivery: Delivery): Promise<void> {
    this.markSettled(delivery);
    await delivery.ack();
  }

  async reject(delivery: Delivery, requeue: boolean): Promise<void> {
    this.markSettled(delivery);
    await delivery.reject(requeue);
  }

  private markSettled(delivery: Delivery): void {
    if (this.settled.has(delivery)) throw new Error('the test settled a delivery twice');
    this.settled.add(delivery);
    this.unsettled--;
  }
}

/** Marks the test skipped (with the adapter's declared reason) when it is listed in `skip`. */
export function skipped(t: TestContext, name: string, skip: Readonly<Record<string, string | undefined>> | undefined): boolean {
  const reason = skip?.[name];
  if (reason === undefined) return false;
  t.skip(reason);
  return true;
}
