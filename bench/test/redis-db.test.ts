/**
 * The bench's safety rule on Redis: a scenario runs only on a database it found empty, and empties
 * only that one. Uses database 5 of the local Redis (skipped when Redis is missing, except under
 * CI); plus the pure helpers that turn figures into targets and traits.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import { claimEmptyDb, describeDurability, parseRedisServer, probeRedis, withEmptyDb } from '../src/redis-db.js';
import type { RowResult } from '../src/runner.js';
import { evaluateTargets } from '../src/targets.js';

const server = { host: '127.0.0.1', port: 6379 };
const target = { ...server, db: 5 };

it('refuses a database that holds keys, and empties only the one it claimed', async (t) => {
  const info = await probeRedis(server);
  if ('error' in info) {
    if (process.env['CI']) assert.fail(info.error);
    t.skip(info.error);
    return;
  }
  const other = new Redis({ ...server, db: 5, lazyConnect: true });
  await other.connect();
  try {
    if ((await other.dbsize()) !== 0) return t.skip('Redis db 5 is in use');
    await withEmptyDb(target, async (redis) => {
      await redis.set('bench-test:key', '1');
      // While it is held (keys in it), a second claim is refused and names the database.
      await assert.rejects(claimEmptyDb(target), /Redis db 5 on 127\.0\.0\.1:6379 holds 1 keys/);
    });
    assert.equal(await other.dbsize(), 0, 'released: emptied');
  } finally {
    await other.del('bench-test:key');
    other.disconnect();
  }
});

it('describes the server settings the Redis rows run with', () => {
  assert.equal(describeDurability({ version: '7', appendonly: 'no', save: '' }), 'Redis as configured (AOF off, no RDB snapshots): a Redis restart loses everything');
  assert.equal(describeDurability({ version: '7', appendonly: 'yes', save: '3600 1' }), 'Redis as configured (AOF on, RDB save "3600 1")');
  assert.deepEqual(parseRedisServer('redis://10.0.0.1:6390'), { host: '10.0.0.1', port: 6390 });
  assert.throws(() => parseRedisServer('redis://127.0.0.1:6379/3'), /no db, the bench picks them/);
});

it('turns rows into ratio targets, and leaves out those whose rows did not run', () => {
  // The new worker's p50 is slower than the warmed one's by a different factor per row: the target
  // must be the warmed ratio (2), not the new worker's (1 / 0.25 = 4).
  const row = (contestant: string, perSecond: number, p50Ms: number, newP50Ms = p50Ms) =>
    ({
      contestant,
      enqueue: { perSecond },
      processLow: { perSecond },
      process: { perSecond },
      endToEnd: { perSecond },
      latency: { p50Ms, p99Ms: p50Ms * 4, newWorker: { p50Ms: newP50Ms } },
    }) as unknown as RowResult;
  const targets = evaluateTargets([row('celeriac-redis', 3_000, 0.5, 1), row('bullmq-redis', 1_000, 1), row('bee-queue-redis', 5_000, 0.25, 0.25)]);
  assert.ok(targets.every((t) => t.against !== 'celery-py-redis' && t.contestant === 'celeriac-redis'));
  const process = targets.find((t) => t.metric === 'process' && t.against === 'bullmq-redis');
  assert.deepEqual([process?.value, process?.met], [3, true]);
  const p50 = targets.find((t) => t.metric === 'p50');
  assert.deepEqual([p50?.value, p50?.met, p50?.relation], [2, false, 'atMost']);
  assert.ok(!targets.some((t) => t.metric === 'p50New'), "the new worker's p50 is not a target");
});
