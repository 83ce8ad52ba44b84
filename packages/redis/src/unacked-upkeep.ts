/**
 * The periodic care of `unacked` while a broker has consumers: renew the `unacked_index` score of
 * every message this instance holds (so no sweep, ours or a Python worker's, takes it while this
 * process lives), then run the restore sweep (restore-sweep.ts) for messages whose holder died,
 * and give back what consumers that are gone left in their landing lists (landing.ts).
 *
 * It runs every quarter of the visibility timeout, kept between 250 ms (so renewals stay well
 * inside short test timeouts) and 60 s (kombu sweeps about every 100 s; a default 1 h timeout
 * would otherwise mean a 15 min pause). The first run starts with the first consumer, and takes
 * wait for it (`first`), so what a dead worker left behind is served before newer messages.
 */
import type { Logger } from '@celeriac/core';
import type { Redis } from 'ioredis';
import type { HeldDeliveries } from './held-deliveries.js';
import type { KombuKeys } from './kombu-keys.js';
import { retryRedis } from './redis-retry.js';
import { restoreLandings } from './landing.js';
import { restoreExpired } from './restore-sweep.js';

export interface UpkeepOptions {
  readonly held: HeldDeliveries;
  readonly client: () => Redis;
  readonly keys: KombuKeys;
  readonly visibilityTimeoutS: number;
  readonly logger: Logger;
  /** True once the broker is closing: runs stop. */
  readonly stopped: () => boolean;
}

export function upkeepIntervalMs(visibilityTimeoutS: number): number {
  return Math.min(60_000, Math.max(250, (visibilityTimeoutS * 1000) / 4));
}

export class UnackedUpkeep {
  /** The first run; resolved (never rejected) once it is over. */
  first: Promise<void> = Promise.resolve();
  /** True once `first` has resolved: takes need not wait for it (not even a microtask). */
  firstDone = true;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly options: UpkeepOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.run(), upkeepIntervalMs(this.options.visibilityTimeoutS));
    this.timer.unref();
    this.firstDone = false;
    this.first = this.run().then(() => {
      this.firstDone = true;
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async run(): Promise<void> {
    const { held, client, keys, visibilityTimeoutS, logger, stopped } = this.options;
    if (this.running || stopped()) return;
    this.running = true;
    try {
      if (held.size > 0) await retryRedis(() => held.renew(), { stopped, logger, what: 'renewing held messages' });
      await restoreExpired(client(), keys, visibilityTimeoutS, logger);
      await restoreLandings(client(), keys, logger);
    } catch (err) {
      if (!stopped()) logger.warn('redis broker: renewing or restoring unacked messages failed; will try again', { error: (err as Error).message });
    } finally {
      this.running = false;
    }
  }
}
