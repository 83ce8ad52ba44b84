import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { gridSquare } from '../src/grid-square.js';
import { SquareStore } from '../src/square-store.js';

it('a grid square is a closed, counter-clockwise GeoJSON ring from its lower-left corner', () => {
  assert.deepEqual(gridSquare(3, -2), { type: 'Polygon', coordinates: [[[3, -2], [4, -2], [4, -1], [3, -1], [3, -2]]] });
  const ring = gridSquare(0, 0, 2).coordinates[0]!;
  // Shoelace formula: positive area means counter-clockwise (RFC 7946 §3.1.6).
  let twiceArea = 0;
  for (let i = 0; i < ring.length - 1; i++) twiceArea += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
  assert.equal(twiceArea / 2, 4);
  assert.throws(() => gridSquare(Number.NaN, 0), TypeError);
});

it('storing the same cell twice leaves one row', () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-squares-'));
  try {
    const store = new SquareStore(join(dir, 'squares.db'));
    store.upsert(1, 2, gridSquare(1, 2), 'first-run');
    store.upsert(1, 2, gridSquare(1, 2), 'redelivered');
    store.upsert(2, 1, gridSquare(2, 1), 'other');
    assert.equal(store.count(), 2);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
