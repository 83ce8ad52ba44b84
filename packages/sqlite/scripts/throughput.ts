/**
 * A rough throughput check of the SQLite broker and backend in one process, shaped like a worker
 * with the default concurrency (10) and prefetch (40): publishMany N messages, then for each
 * delivery store a SUCCESS result and ack it. Not a test (timings depend on the machine).
 *
 * Run from the repo root:
 *   node --conditions=development --import tsx packages/sqlite/scripts/throughput.ts [N] [prefetch]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildResultMeta, silentLogger, type OutgoingMessage } from '@celeriac/core';
import { SqliteBackend, SqliteBroker } from '@celeriac/sqlite';

const total = Number(process.argv[2] ?? 20_000);
const prefetch = Number(process.argv[3] ?? 40);
const dir = mkdtempSync(join(tmpdir(), 'celeriac-throughput-'));
const path = join(dir, 'bench.db');
const broker = new SqliteBroker({ path, logger: silentLogger });
const backend = new SqliteBackend({ path, logger: silentLogger });

try {
  const batch: OutgoingMessage[] = Array.from({ length: total }, (_, i) => {
    const id = randomUUID();
    return {
      message: {
        headers: { lang: 'js', task: 'bench.noop', id, root_id: id, parent_id: null, group: null, retries: 0, eta: null, expires: null, argsrepr: `(${i},)`, kwargsrepr: '{}', origin: 'bench', ignore_result: false, timelimit: [null, null], shadow: null },
        properties: { correlation_id: id, reply_to: randomUUID(), delivery_mode: 2, priority: 0 },
        body: JSON.stringify([[i], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
        contentType: 'application/json',
        contentEncoding: 'utf-8',
      },
      options: { queue: 'celery' },
    };
  });
  let t0 = performance.now();
  await broker.publishMany(batch);
  const publishMs = performance.now() - t0;

  t0 = performance.now();
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    void broker.consume(['celery'], (delivery) => {
      const id = String(delivery.message.headers['id']);
      const meta = buildResultMeta({ taskId: id, status: 'SUCCESS', result: null, now: new Date() });
      backend
        .set(id, meta, { expiresIn: 86_400 })
        .then(() => delivery.ack())
        .then(() => {
          if (++done === total) resolve();
        }, reject);
    }, { prefetch });
  });
  const consumeMs = performance.now() - t0;
  const stored = (await backend.getMany([String(batch[0]!.message.headers['id']), String(batch[total - 1]!.message.headers['id'])])).filter(Boolean).length;
  console.log(`publishMany ${total}: ${publishMs.toFixed(0)} ms (${Math.round(total / (publishMs / 1000))}/s)`);
  console.log(`consume + result set + ack ${total} (prefetch ${prefetch}): ${consumeMs.toFixed(0)} ms (${Math.round(total / (consumeMs / 1000))}/s); results readable: ${stored}/2; left in queue: ${await broker.size('celery')}`);
} finally {
  await broker.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
