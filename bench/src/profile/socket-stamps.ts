/**
 * Loaded with `--import` into each process of a trip-split.ts run (and imported by its producer):
 * notes, on the machine's clock, when this process's sockets carry the four events of a latency
 * round trip, whoever's code sends them (celeriac's or the floor's, both on ioredis):
 *
 * - `sent`: a write that starts with an LPUSH onto the `celery` list (the producer sends a task);
 * - `arrived`: a read that holds an envelope (`{"body"`: the worker got the message);
 * - `stored`: a write that holds a `celery-task-meta-` key (the worker writes the result);
 * - `heard`: a read that starts with a pub/sub message on a `celeriac-notify-` channel (the
 *   producer hears the result).
 *
 * It wraps net.Socket's `_write`, `_writev` and `emit`, and reads the first 2,000 bytes of each
 * chunk: a microsecond or two per event, on every row alike. With `CELERIAC_STAMPS_DIR` set, a
 * process that saw any of them writes `<dir>/<pid>.json` as it exits. A measuring tool only.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export type StampKind = 'sent' | 'arrived' | 'stored' | 'heard';
/** Milliseconds since the epoch, with sub-millisecond digits (the same clock in every process). */
export type Stamps = Record<StampKind, number[]>;

const stamps: Stamps = { sent: [], arrived: [], stored: [], heard: [] };
const now = () => performance.timeOrigin + performance.now();
const head = (chunk: unknown): string => (Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, 2000) : String(chunk).slice(0, 2000));

function onWrite(text: string): void {
  if (text.startsWith('*3\r\n$5\r\nlpush\r\n$6\r\ncelery\r\n')) stamps.sent.push(now());
  else if (text.includes('celery-task-meta-')) stamps.stored.push(now());
}

type Proto = {
  _write(chunk: unknown, encoding: unknown, callback: unknown): void;
  _writev(chunks: { chunk: unknown }[], callback: unknown): void;
  emit(event: string | symbol, ...args: unknown[]): boolean;
};
const proto = net.Socket.prototype as unknown as Proto;
const { _write: write, _writev: writev, emit } = proto;
proto._write = function (this: Proto, chunk, encoding, callback) {
  onWrite(head(chunk));
  return write.call(this, chunk, encoding, callback);
};
proto._writev = function (this: Proto, chunks, callback) {
  // A corked write: the commands one per chunk; the result's SET is one of them.
  const first = chunks.map((c) => head(c.chunk)).find((t) => t.startsWith('*3\r\n$5\r\nlpush') || t.includes('celery-task-meta-'));
  if (first !== undefined) onWrite(first);
  return writev.call(this, chunks, callback);
};
proto.emit = function (this: Proto, event, ...args) {
  if (event === 'data') {
    const text = head(args[0]);
    // A pub/sub message on a notify channel (an envelope names that channel in a header too).
    if (text.startsWith('*3\r\n$7\r\nmessage\r\n') && text.includes('celeriac-notify-')) stamps.heard.push(now());
    else if (text.includes('{"body"')) stamps.arrived.push(now());
  }
  return emit.call(this, event, ...args);
};

/** What this process saw so far. */
export function seen(): Stamps {
  return stamps;
}

const dir = process.env['CELERIAC_STAMPS_DIR'];
if (dir) {
  process.on('exit', () => {
    if (Object.values(stamps).some((list) => list.length > 0)) writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(stamps));
  });
}
