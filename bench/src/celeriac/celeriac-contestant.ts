/**
 * celeriac as a contestant, on any store (celeriac-stores.ts): the three scenarios, each on a fresh
 * store with its own app (the producer) and one worker.
 */
import { randomUUID } from 'node:crypto';
import type { BulkFigures, Contestant, EndToEndFigures, LatencyFigures, ScenarioConfig } from '../contestant.js';
import { timeRoundTrips } from '../timing.js';
import { awaitAllSucceeded, countSucceeded } from './await-results.js';
import { createBenchApp, type BenchApp } from './bench-app.js';
import type { CeleriacStore } from './celeriac-stores.js';
import type { WorkerHandle } from './worker-handle.js';

interface Scene {
  readonly bench: BenchApp;
  readonly worker: WorkerHandle;
}

export function celeriacContestant(store: CeleriacStore): Contestant {
  /** Runs `fn` on a fresh store with a connected producer app and a worker not yet consuming. */
  async function scene<T>(config: ScenarioConfig, fn: (scene: Scene) => Promise<T>): Promise<T> {
    const { url, dispose } = await store.create();
    const bench = createBenchApp(url);
    let worker: WorkerHandle | null = null;
    try {
      await bench.app.connect();
      worker = await store.worker(url, bench.app, config.concurrency);
      return await fn({ bench, worker });
    } finally {
      // Stopping twice is harmless: a scenario stops its worker itself to read the counters.
      await worker?.stop().catch(() => undefined);
      await bench.app.close();
      await dispose();
    }
  }

  return {
    name: store.name,
    traits: store.traits,

    bulk: (config) =>
      scene(config, async ({ bench, worker }): Promise<BulkFigures> => {
        const { app } = bench;
        const ids = taskIds(config.tasks);
        const enqueueStart = performance.now();
        await sendAll(bench, ids, config.batch);
        const enqueueMs = performance.now() - enqueueStart;
        const queued = await app.broker.size(app.defaultQueue);

        const processStart = performance.now();
        await worker.start();
        await awaitAllSucceeded(backendOf(bench), ids);
        const processMs = performance.now() - processStart;

        const stats = await worker.stop();
        const verified = await countSucceeded(backendOf(bench), ids);
        return { tasks: ids.length, enqueueMs, queued, processMs, verified, workerSucceeded: stats.succeeded, workerCpuMs: stats.cpuMs };
      }),

    endToEnd: (config) =>
      scene(config, async ({ bench, worker }): Promise<EndToEndFigures> => {
        const ids = taskIds(config.tasks);
        await worker.start(); // consuming an empty queue before the clock starts
        const start = performance.now();
        const done = awaitAllSucceeded(backendOf(bench), ids);
        done.catch(() => undefined); // awaited below; a send failure must not leave it unhandled
        await sendAll(bench, ids, config.batch);
        await done;
        const ms = performance.now() - start;

        const stats = await worker.stop();
        const verified = await countSucceeded(backendOf(bench), ids);
        return { tasks: ids.length, ms, verified, workerSucceeded: stats.succeeded, workerCpuMs: stats.cpuMs };
      }),

    latency: (config) =>
      scene(config, async ({ bench, worker }): Promise<LatencyFigures> => {
        await worker.start();
        const roundTrip = async () => {
          const result = await bench.noop.delay();
          await result.get({ timeout: 30_000 });
        };
        return timeRoundTrips(config, roundTrip, worker, store.server ?? null);
      }),
  };
}

/** Ids made before the clock starts, so the waiter can read results while sends are under way. */
function taskIds(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID());
}

/** Sends one no-op per id, `batch` per bulk call, one call after another. */
async function sendAll({ noop }: BenchApp, ids: readonly string[], batch: number): Promise<void> {
  for (let i = 0; i < ids.length; i += batch) {
    await noop.applyMany(ids.slice(i, i + batch).map((taskId) => ({ taskId })));
  }
}

function backendOf({ app }: BenchApp) {
  const backend = app.backend;
  if (!backend) throw new Error('the bench app has no result backend');
  return backend;
}
