/**
 * Two producer processes and two consumer processes share one database file: every message is
 * consumed exactly once (some after a requeue that another process may pick up).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { silentLogger } from '@celeriac/core';
import { SqliteBroker } from '@celeriac/sqlite';
import { exited, startFixture, type Child } from './child-processes.js';
import { tempDir } from './temp-db.js';

const PER_PRODUCER = 1500;

it('two producers and two consumers in separate processes: every message exactly once', { timeout: 120_000 }, async () => {
  const path = join(tempDir('multi-process'), 'shared.db');
  const expected = PER_PRODUCER * 2;
  const seen = new Map<string, number>();
  const byConsumer = [0, 0];
  let allSeen!: () => void;
  const done = new Promise<void>((resolve) => (allSeen = resolve));
  const consumers: Child[] = [0, 1].map((c) =>
    startFixture('consumer.ts', [path], (tag) => {
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
      byConsumer[c]!++;
      if (seen.size === expected) allSeen();
    }),
  );
  const producers = ['p1', 'p2'].map((p) => startFixture('producer.ts', [path, p, String(PER_PRODUCER)]));
  for (const p of producers) assert.equal(await exited(p), 0, 'a producer failed');
  await done;
  for (const c of consumers) c.stdin.end();
  for (const c of consumers) assert.equal(await exited(c), 0, 'a consumer failed');

  const duplicates = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(duplicates, [], 'messages consumed more than once');
  for (const p of ['p1', 'p2']) {
    for (let i = 0; i < PER_PRODUCER; i++) assert.ok(seen.has(`${p}:${i}`), `${p}:${i} was never consumed`);
  }
  assert.ok(byConsumer.every((n) => n > 0), `one consumer got nothing: ${byConsumer.join(' / ')}`);
  const broker = new SqliteBroker({ path, logger: silentLogger });
  try {
    assert.equal(await broker.size('mp'), 0);
  } finally {
    await broker.close();
  }
});
