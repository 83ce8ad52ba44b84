/**
 * celeriac's chord row: the producer app in this process applies `chord(header, body)` with
 * `app.apply()` (chord size recorded, then every header message in one bulk publish); the worker
 * is the celeriac-redis row's worker process (../celeriac/worker-child.ts, a plain
 * `Worker.create(app, { concurrency })` on `redis://host:port/<db>`), which records each header
 * result, counts the part in Celery's chord keys and sends the body when the last part is in.
 * "Done" is the body's `AsyncResult.get()` returning.
 */
import { chord, States, type GroupResult, type ResultBackend } from '@celeriac/core';
import type { ScenarioConfig } from '../contestant.js';
import { countSucceeded } from '../celeriac/await-results.js';
import { createBenchApp } from '../celeriac/bench-app.js';
import { spawnWorker, type WorkerHandle } from '../celeriac/worker-handle.js';
import { redisStore } from '../celeriac-redis/celeriac-redis-store.js';
import { redisDbUrl, withEmptyDb, type RedisTarget } from '../redis-db.js';
import type { ChordFigures, ChordRow } from './chord-row.js';

/** `target` is the celeriac-redis row's own database: the rows run one after another. */
export function celeriacChordRow(target: RedisTarget, cpuProfileDir?: string): ChordRow {
  return {
    name: 'celeriac-redis',
    traits: {
      ...redisStore(target).traits,
      resultsStored: "yes: every header task's and the body's (celery-task-meta-<id>, extended metadata); parts counted in celery-taskset-meta-<group id>.j",
    },
    run: (config) => withEmptyDb(target, () => run(redisDbUrl(target), config, cpuProfileDir)),
  };
}

async function run(url: string, config: ScenarioConfig, cpuProfileDir?: string): Promise<ChordFigures> {
  const bench = createBenchApp(url);
  let worker: WorkerHandle | null = null;
  try {
    await bench.app.connect();
    worker = await spawnWorker(url, config.concurrency, cpuProfileDir);
    await worker.start();
    await (await bench.noop.delay()).get({ timeout: 30_000 });
    const workflow = chord(Array.from({ length: config.chordTasks }, () => bench.noop.s()), bench.noopBody.s());
    const backend = bench.app.backend!;
    const start = performance.now();
    const body = await bench.app.apply(workflow);
    const appliedMs = performance.now() - start;
    const stored = watchStored(backend, body.id, start);
    await body.get({ timeout: 600_000 });
    const ms = performance.now() - start;
    const bodyStoredMs = await stored;

    const counts = await worker.stop();
    const headerIds = (body.parent as GroupResult).results.map((r) => r.id);
    const headerVerified = await countSucceeded(backend, headerIds);
    const bodySucceeded = (await backend.get(body.id))?.status === 'SUCCESS';
    return { tasks: headerIds.length, ms, appliedMs, bodyStoredMs, bodySucceeded, headerVerified, workerSucceeded: counts.succeeded, workerCpuMs: counts.cpuMs };
  } finally {
    // Stopping twice is harmless: the run stops its worker itself to read the counters.
    await worker?.stop().catch(() => undefined);
    await bench.app.close();
  }
}

/** When `id`'s stored result first says SUCCESS (ms since `start`), read every 5 ms; null after 10 minutes. */
async function watchStored(backend: ResultBackend, id: string, start: number): Promise<number | null> {
  const deadline = start + 600_000;
  while (performance.now() < deadline) {
    if ((await backend.get(id))?.status === States.SUCCESS) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return null;
}
