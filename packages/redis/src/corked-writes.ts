/**
 * Several commands of one connection in one socket write, without an ioredis Pipeline.
 *
 * A Pipeline gathers its commands' text into one write, but costs a pipeline object (with its
 * own promise, a copy of the client's script table and a `length` accessor defined per
 * instance) and two promise reactions per command to collect the replies into an array: on a
 * worker's hot path (results, acks, wait and take: four commands per task) that was a large
 * share of the JavaScript run per task. Corking the socket gives the same single write (Node
 * hands the buffered chunks to one writev) and leaves each command its own promise or callback.
 *
 * Only while the connection is ready: otherwise the commands go to ioredis's offline queue, in
 * order, as a pipeline's would, and are written when the connection is back.
 */
import type { Redis } from 'ioredis';

/** Runs `send`, which issues commands on `client`, with the socket corked: they leave in one write. */
export function corked<T>(client: Redis, send: () => T): T {
  const stream = client.status === 'ready' ? client.stream : null;
  if (!stream) return send();
  stream.cork();
  try {
    return send();
  } finally {
    stream.uncork();
  }
}
