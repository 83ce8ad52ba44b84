/**
 * One socket write per burst of frames instead of one per frame.
 *
 * amqplib queues each frame (a publish is one chunk, an ack another) on its channel's buffer and
 * writes them to the socket from a multiplexer, at the next `setImmediate`, one `socket.write`
 * each. On an idle socket every such write is a system call of its own (Node writes at once when
 * nothing is pending), and on this project's machines a loopback write costs about as much as the
 * rest of a task's work. Corking the socket around the multiplexer's round turns the round into
 * one `writev`.
 *
 * This reaches into amqplib 2.x internals (`connection.muxer._readIncoming`, `connection.stream`,
 * the socket). Where they are not what is expected (another amqplib version), nothing is changed:
 * the frames go as amqplib writes them, only slower.
 */
import type { ChannelModel } from 'amqplib';

interface Internals {
  readonly connection?: {
    readonly stream?: { cork?: () => void; uncork?: () => void };
    readonly muxer?: { _readIncoming?: () => void; __celeriacCorked?: boolean };
  };
}

/** Corks the socket around each multiplexer round; returns whether it could. */
export function coalesceWrites(model: ChannelModel): boolean {
  const connection = (model as unknown as Internals).connection;
  const socket = connection?.stream;
  const muxer = connection?.muxer;
  const round = muxer?._readIncoming;
  if (!socket || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function' || !muxer || typeof round !== 'function') return false;
  if (muxer.__celeriacCorked) return true;
  muxer.__celeriacCorked = true;
  muxer._readIncoming = function corked(this: unknown) {
    socket.cork!();
    try {
      round.call(this);
    } finally {
      socket.uncork!();
    }
  };
  return true;
}
