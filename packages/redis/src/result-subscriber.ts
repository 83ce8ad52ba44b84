/**
 * The result backend's one Pub/Sub connection, shared by every `watch()` of a backend instance.
 *
 * A channel (`celery-task-meta-<id>`) is subscribed while anyone watches it (reference counted by
 * the set of waiting watchers) and for a short grace period after the last one leaves, then
 * unsubscribed. A watcher is woken by:
 *  - a message on its channel (Celery's worker PUBLISHes every stored state there);
 *  - the server's confirmation of the SUBSCRIBE that serves it — once per subscription, and only
 *    for the watchers waiting at that moment. A caller that read the key before the subscription
 *    was live may have missed a write; the wake-up makes it read again, now with the subscription
 *    live, which closes that race (Celery's client does the same: SUBSCRIBE, then GET);
 *  - a reconnect, once the channel is subscribed again on the new connection (Celery MGETs every
 *    subscribed key after reconnecting: messages published while disconnected are lost).
 *
 * Channels whose grace period is over are unsubscribed together, in one command.
 *
 * The grace period matters: `waitForReady()` re-arms `watch()` right after each wake-up; a
 * subscription that ended in between would be renewed and confirmed again, waking the caller
 * again, forever. With the grace period the renewed watch finds the channel still subscribed and
 * sleeps until a message.
 */
import type { Logger } from '@celeriac/core';
import type { Redis } from 'ioredis';
import type { NotifyChannel } from './notify-channel.js';

interface Channel {
  /** Wake-up functions of the watchers waiting on this channel. */
  /** Each is called with the published payload, or with nothing for a plain wake-up. */
  readonly watchers: Set<(payload?: string) => void>;
  /** The server confirmed the latest SUBSCRIBE sent for this channel on the current connection. */
  confirmed: boolean;
  /** When its last watcher left (performance.now() ms); null while watched. */
  idleSince: number | null;
  /**
   * Subscribed (the SUBSCRIBE written) before the task was sent, and without a break since: every
   * state the task's worker published reached this connection (see `peek`).
   */
  sinceSend: boolean;
  /** The last message published on the channel while subscribed. */
  last: string | undefined;
}

/** Most channels in one UNSUBSCRIBE. */
const UNSUBSCRIBE_CHUNK = 1000;

type SubscriberState = 'idle' | 'connected' | 'disconnected' | 'closed';

export class ResultSubscriber {
  private client: Redis | null = null;
  private state: SubscriberState = 'idle';
  private readonly channels = new Map<string, Channel>();
  /** Channels with no watcher left, oldest first; unsubscribed together once they have lingered. */
  private readonly lingering = new Set<string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** An outage was logged; further connection errors until the next 'ready' go to debug. */
  private outageReported = false;
  /** The notify channel's SUBSCRIBE was written on the current connection. */
  private notifySubscribed = false;

  /**
   * @param createClient makes the dedicated connection (lazily, on the first watch); it must have
   *   `autoResubscribe: false`, since re-subscribing is done here, where the confirmation is seen.
   * @param lingerMs how long a channel stays subscribed after its last watcher left (see sweep()).
   */
  constructor(
    private readonly createClient: () => Redis,
    private readonly logger: Logger,
    private readonly lingerMs: number,
    private readonly notify: NotifyChannel | null = null,
  ) {}

  /**
   * Watches `channel` until its next wake-up (see the file header), with the published message
   * when a message was the wake-up. (A task sent with the notify channel in its header is watched
   * there first, by the backend: notify-channel.ts.)
   */
  watch(channel: string): { woken: Promise<string | undefined>; stop: () => void } {
    if (this.state === 'closed') return { woken: Promise.resolve(undefined), stop: () => {} };
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { watchers: new Set(), confirmed: false, idleSince: null, sinceSend: false, last: undefined };
      this.channels.set(channel, entry);
      this.subscribe(channel, entry);
    } else if (entry.idleSince !== null) {
      entry.idleSince = null;
      this.lingering.delete(channel);
    }
    const current = entry;
    let wake!: (payload?: string) => void;
    const woken = new Promise<string | undefined>((resolve) => {
      wake = (payload?: string) => {
        if (!current.watchers.delete(wake)) return;
        if (current.watchers.size === 0) this.release(channel, current);
        resolve(payload);
      };
      current.watchers.add(wake);
    });
    return { woken, stop: () => wake() };
  }

  /**
   * The notify channel to name in the header of a task about to be sent, its SUBSCRIBE written
   * first if this is the first; undefined when there is none (disabled) or the connection is not
   * up (then the task's own channel is prepared instead, see prepare()).
   */
  notifyFor(taskId: string): string | undefined {
    const notify = this.notify;
    if (!notify || this.state !== 'connected' || this.client?.status !== 'ready') return undefined;
    if (!this.notifySubscribed) {
      this.notifySubscribed = true;
      const client = this.client;
      client.subscribe(notify.name).catch((err: unknown) => {
        // Subscribed again with the next task (the ones sent meanwhile fall back, notify-channel.ts).
        if (this.client === client) this.notifySubscribed = false;
        if (this.state !== 'closed') this.logger.warn('redis backend: SUBSCRIBE to the notify channel failed', { channel: notify.name, error: err });
      });
    }
    notify.expect(taskId);
    return notify.name;
  }

  /**
   * Subscribes to `channel` ahead of any watcher, just before its task is sent: unwatched, it
   * lapses after the grace period as a released channel does. Its confirmation wakes nobody: the
   * SUBSCRIBE was written before the task, so Redis runs it before anything the task's worker
   * publishes (on one host, Redis reads both from the same wake-up; across a network a delayed
   * SUBSCRIBE could lose that race, which the waiters' bounded waits and re-reads still cover).
   */
  prepare(channel: string): void {
    if (this.state === 'closed') return;
    const known = this.channels.get(channel);
    if (known) {
      // The same id sent again: what the channel saw belongs to the earlier send.
      known.last = undefined;
      return;
    }
    // Only a connection that is up writes the SUBSCRIBE now, ahead of the task; one still
    // connecting queues it, to be written who knows when: then this is an ordinary subscription.
    const sinceSend = this.state === 'connected' && this.client?.status === 'ready';
    const entry: Channel = { watchers: new Set(), confirmed: false, idleSince: null, sinceSend, last: undefined };
    this.channels.set(channel, entry);
    this.subscribe(channel, entry);
    this.release(channel, entry);
  }

  /**
   * What a channel subscribed since before its task was sent has seen, without asking Redis: the
   * last message, or null when nothing was published yet; undefined when that cannot be told
   * (not prepared, lapsed, or resubscribed after a reconnect).
   */
  peek(channel: string): string | null | undefined {
    const entry = this.channels.get(channel);
    return entry?.sinceSend ? (entry.last ?? null) : undefined;
  }

  /** Channels currently subscribed or being subscribed (for tests and diagnostics). */
  subscribedChannels(): string[] {
    return [...this.channels.keys()];
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.setState('closed');
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    this.lingering.clear();
    for (const entry of this.channels.values()) wakeAll(entry);
    this.channels.clear();
    this.notify?.reset();
    const client = this.client;
    this.client = null;
    // Nothing to flush on a subscriber connection: drop it at once.
    client?.disconnect();
  }

  private connection(): Redis {
    if (this.client) return this.client;
    const client = this.createClient();
    client.on('message', (channel: string, message: string) => {
      if (channel === this.notify?.name) return this.notify.onMessage(message);
      const entry = this.channels.get(channel);
      if (!entry) return;
      entry.last = message;
      wakeAll(entry, message);
    });
    client.on('ready', () => this.onReady());
    client.on('close', () => {
      // What the notify channel carried while the connection was down is lost.
      this.notifySubscribed = false;
      this.notify?.reset();
      if (this.state === 'connected') this.setState('disconnected');
    });
    client.on('error', (err: Error) => {
      // ioredis reports every failed reconnect attempt; one warning per outage is enough.
      const level = this.outageReported ? 'debug' : 'warn';
      this.outageReported = true;
      this.logger[level]('redis backend: result subscriber connection error', { error: err });
    });
    this.client = client;
    return client;
  }

  private onReady(): void {
    if (this.state === 'closed') return;
    this.outageReported = false;
    const reconnected = this.state === 'disconnected';
    this.setState('connected');
    if (!reconnected) return;
    // The new connection has no subscriptions; each channel is subscribed again, and its watchers
    // are woken once the server confirms it, so their re-read sees anything missed meanwhile.
    for (const [channel, entry] of this.channels) {
      entry.confirmed = false;
      entry.sinceSend = false;
      this.subscribe(channel, entry);
    }
  }

  private subscribe(channel: string, entry: Channel): void {
    this.connection()
      .subscribe(channel)
      .then(
        () => {
          if (this.channels.get(channel) !== entry || entry.confirmed) return;
          entry.confirmed = true;
          if (!entry.sinceSend) wakeAll(entry);
        },
        (err: unknown) => {
          // Not woken here: a caller that re-watched at once would spin on a failing connection.
          // The channel is subscribed again on the next reconnect; waiters keep their own timeouts.
          if (this.state !== 'closed') this.logger.warn('redis backend: SUBSCRIBE failed', { channel, error: err });
        },
      );
  }

  private release(channel: string, entry: Channel): void {
    if (this.state === 'closed' || entry.idleSince !== null || this.channels.get(channel) !== entry) return;
    entry.idleSince = performance.now();
    this.lingering.add(channel);
    this.sweepTimer ??= this.sweepAfter(this.lingerMs);
  }

  /**
   * Unsubscribes, in one command, every channel that has lingered at least half of `lingerMs`
   * without a watcher; the sweep runs `lingerMs` after the oldest was released, so channels
   * released within half a grace period of each other go together (one UNSUBSCRIBE per channel
   * would cost a write per finished wait). A channel so stays subscribed between half and one and
   * a half grace periods after its last watcher left.
   */
  private sweep(): void {
    this.sweepTimer = null;
    const now = performance.now();
    const expired: string[] = [];
    for (const channel of this.lingering) {
      const entry = this.channels.get(channel);
      if (entry && entry.idleSince !== null && now - entry.idleSince < this.lingerMs / 2) {
        // Oldest first: the rest lingered less. Swept when this one has lingered in full.
        this.sweepTimer = this.sweepAfter(entry.idleSince + this.lingerMs - now);
        break;
      }
      this.lingering.delete(channel);
      if (!entry || entry.idleSince === null) continue;
      this.channels.delete(channel);
      expired.push(channel);
    }
    if (expired.length === 0) return;
    // Redis runs a connection's commands in order: a later SUBSCRIBE to one of these channels (a
    // new watcher) lands after this UNSUBSCRIBE, so the channel ends up subscribed.
    for (let i = 0; i < expired.length; i += UNSUBSCRIBE_CHUNK) {
      this.client?.unsubscribe(...expired.slice(i, i + UNSUBSCRIBE_CHUNK)).catch((err: unknown) => {
        if (this.state !== 'closed') this.logger.debug('redis backend: UNSUBSCRIBE failed', { channels: expired.length, error: err });
      });
    }
  }

  private sweepAfter(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.sweep(), Math.max(0, ms));
    timer.unref();
    return timer;
  }

  private setState(to: SubscriberState): void {
    if (to === this.state) return;
    this.logger.debug(`redis backend result subscriber: ${this.state} -> ${to}`);
    this.state = to;
  }
}

function wakeAll(entry: Channel, payload?: string): void {
  for (const wake of [...entry.watchers]) wake(payload);
}
