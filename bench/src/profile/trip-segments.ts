/**
 * The arithmetic of trip-split.ts: following each round trip through the socket stamps of its
 * producer and its worker (socket-stamps.ts), and the medians of its four segments. Pure.
 */
import type { Stamps } from './socket-stamps.js';

export type Side = 'celeriac' | 'floor';

/** One pairing's figures, in microseconds. */
export interface Split {
  readonly producer: Side;
  readonly worker: Side;
  readonly p50: number;
  readonly toWorker: number;
  readonly inWorker: number;
  readonly toProducer: number;
  readonly inProducer: number;
  readonly trips: number;
}

/**
 * Follows each send through the worker's first arrival after it, the first result write after that
 * and the first notification heard after that; the producer's part runs to the next send.
 */
export function segments(sent: readonly number[], worker: Pick<Stamps, 'arrived' | 'stored'>, heard: readonly number[]): Pick<Split, 'toWorker' | 'inWorker' | 'toProducer' | 'inProducer'> {
  const parts = { toWorker: [] as number[], inWorker: [] as number[], toProducer: [] as number[], inProducer: [] as number[] };
  const next = (list: readonly number[], after: number, from: number) => {
    let i = from;
    while (i < list.length && list[i]! < after) i++;
    return i;
  };
  let a = 0;
  let s = 0;
  let h = 0;
  for (let i = 0; i < sent.length; i++) {
    a = next(worker.arrived, sent[i]!, a);
    s = next(worker.stored, worker.arrived[a] ?? Infinity, s);
    h = next(heard, worker.stored[s] ?? Infinity, h);
    if (h >= heard.length) break;
    parts.toWorker.push(worker.arrived[a]! - sent[i]!);
    parts.inWorker.push(worker.stored[s]! - worker.arrived[a]!);
    parts.toProducer.push(heard[h]! - worker.stored[s]!);
    if (i + 1 < sent.length) parts.inProducer.push(sent[i + 1]! - heard[h]!);
  }
  if (parts.toWorker.length === 0) throw new Error('no round trip could be followed through the stamps (has the wire format changed?)');
  const us = (list: number[]) => median(list) * 1000;
  return { toWorker: us(parts.toWorker), inWorker: us(parts.inWorker), toProducer: us(parts.toProducer), inProducer: us(parts.inProducer) };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.ceil(sorted.length / 2) - 1] ?? NaN;
}

