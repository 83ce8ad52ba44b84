/**
 * Result writes that ride in the broker's next take, when a result backend and a broker of the
 * same process use the same Redis server and database (a worker whose app has one Redis URL for
 * both, the usual set-up).
 *
 * A worker that finishes a task writes its result (backend) and, at the end of the same
 * event-loop turn, asks for more messages (broker): two connections, two socket writes, two
 * replies to wake up for. On this kind of machine a socket write and the wake-up for its reply
 * cost more than the rest of a no-op task's handling. Through a lane, the broker's take write
 * carries the turn's result writes ahead of its own commands: one write, and the results still go
 * out first.
 *
 * The contract: a rider (result-writes.ts) with writes waiting checks `takePending` before it
 * sends them on its own. A take that is decided on marks itself pending (`expectTake`), and when
 * it is built calls `board(client)` (its connection, corked); a take that is dropped calls `board(null)`, and the riders
 * send their writes themselves. A rider whose boarded commands fail sends them again on its own
 * path, with its own retries: boarding never loses a write.
 */
import type { Redis } from 'ioredis';
import type { RedisConnectionConfig } from './redis-url.js';

export interface Rider {
  /**
   * Issues the writes waiting now on `client`, the take's connection, whose socket is corked
   * (corked-writes.ts): they leave in the take's write, ahead of it. With null, sends them on its own.
   */
  board(client: Redis | null): void;
}

export class Lane {
  private readonly riders = new Set<Rider>();
  private pendingTakes = 0;

  /** True while a take decided on has not been built yet: riders leave their writes for it. */
  get takePending(): boolean {
    return this.pendingTakes > 0;
  }

  join(rider: Rider): () => void {
    this.riders.add(rider);
    return () => this.riders.delete(rider);
  }

  /** A take will be sent at the end of this turn; it must call `board()` exactly once. */
  expectTake(): void {
    this.pendingTakes++;
  }

  /** Hands the take's connection (or, for a dropped take, null) to every rider. */
  board(client: Redis | null): void {
    this.pendingTakes--;
    // A dropped take while another is still coming: that one carries the writes.
    if (client === null && this.pendingTakes > 0) return;
    for (const rider of this.riders) rider.board(client);
  }
}

const lanes = new Map<string, Lane>();

/** The lane of one Redis server and database in this process. */
export function laneFor(connection: RedisConnectionConfig): Lane {
  const key = JSON.stringify([connection.host, connection.port, connection.db, connection.username ?? null, connection.password ?? null, connection.tls ?? null]);
  let lane = lanes.get(key);
  if (!lane) lanes.set(key, (lane = new Lane()));
  return lane;
}
