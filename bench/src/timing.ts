/**
 * The timed parts every contestant shares, so each row's clock starts and stops at the same places.
 */
import type { LatencyFigures, ScenarioConfig } from './contestant.js';
import type { WorkerHandle } from './worker-process.js';
import { awaitCount } from './redis-db.js';

/** `config.warmup` untimed round trips, then `config.latencyRuns` timed ones, one after another. */
export async function timeRoundTrips(config: ScenarioConfig, roundTrip: () => Promise<void>): Promise<LatencyFigures> {
  for (let i = 0; i < config.warmup; i++) await roundTrip();
  const samplesMs: number[] = [];
  for (let i = 0; i < config.latencyRuns; i++) {
    const start = performance.now();
    await roundTrip();
    samplesMs.push(performance.now() - start);
  }
  return { samplesMs };
}

/**
 * End to end for a peer whose store keeps a count of finished jobs: the worker is started first
 * (consuming an empty queue), then the clock runs from the first send until `finished()` reaches
 * `config.tasks`. Returns the ids sent, the time, and the worker's counts (after stopping it).
 */
export async function timeEndToEnd(
  config: ScenarioConfig,
  worker: WorkerHandle,
  finished: () => Promise<number>,
  sendAll: () => Promise<string[]>,
): Promise<{ ids: string[]; ms: number; succeeded: number; cpuMs: number | null }> {
  await worker.start();
  const start = performance.now();
  const done = awaitCount(finished, config.tasks);
  done.catch(() => undefined); // awaited below; a send failure must not leave it unhandled
  const ids = await sendAll();
  await done;
  const ms = performance.now() - start;
  const counts = await worker.stop();
  return { ids, ms, succeeded: counts.succeeded, cpuMs: counts.cpuMs };
}
