/**
 * The round-trip split (src/profile/trip-split.ts): its arithmetic on made-up stamps, and a short
 * real run of all four pairings on Redis database 3 (empty; the run claims it and leaves it so).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { segments } from '../src/profile/trip-segments.js';
import { probeRedis } from '../src/redis-db.js';

const TOOL = fileURLToPath(new URL('../src/profile/trip-split.ts', import.meta.url));

it('follows each send through the worker to the notification, and medians each segment', () => {
  // Two round trips (times in ms): sent 10 → arrived 10.1 → stored 10.3 → heard 10.6, then
  // sent 11 → 11.2 → 11.3 → 11.7. A warm-up's worker stamps (before the first send) are skipped,
  // as is a last send whose notification never came.
  const split = segments([10, 11, 12], { arrived: [5, 10.1, 11.2], stored: [5.1, 10.3, 11.3] }, [10.6, 11.7]);
  const us = (x: number) => Math.round(x);
  // Medians of two values: the lower one (nearest rank, as the bench's p50).
  assert.deepEqual(
    { toWorker: us(split.toWorker), inWorker: us(split.inWorker), toProducer: us(split.toProducer), inProducer: us(split.inProducer) },
    { toWorker: 100, inWorker: 100, toProducer: 300, inProducer: 300 },
  );
  assert.throws(() => segments([10], { arrived: [], stored: [] }, []), /no round trip could be followed/);
});

it('refuses an option it does not know, naming its usage', () => {
  const bad = spawnSync(process.execPath, ['--import', 'tsx', TOOL, '--trip', '5'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown option --trip\n.*usage: npm run trip-split --workspace bench --/);
});

it('splits real round trips of the four pairings of celeriac and the floor', async (t) => {
  const info = await probeRedis({ host: '127.0.0.1', port: 6379 });
  if ('error' in info) {
    if (process.env['CI']) assert.fail(info.error);
    return t.skip(info.error);
  }
  const run = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', TOOL, '--trips', '20', '--warmup', '2', '--redis-db', '3'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout.split('\n').filter((line) => /^\| (celeriac|floor) \|/.test(line));
  assert.deepEqual(
    rows.map((row) => row.split('|').slice(1, 3).map((cell) => cell.trim())),
    [
      ['celeriac', 'celeriac'],
      ['celeriac', 'floor'],
      ['floor', 'celeriac'],
      ['floor', 'floor'],
    ],
  );
  for (const row of rows) {
    const figures = row.split('|').slice(3, 8).map((cell) => Number(cell.trim().replace(/,/g, '')));
    assert.equal(figures.length, 5, row);
    for (const figure of figures) assert.ok(Number.isFinite(figure) && figure > 0, `a figure in: ${row}`);
  }
});
