/**
 * The timed parts every contestant shares, so each row's clock starts and stops at the same places.
 */
import type { LatencyFigures, ScenarioConfig } from './contestant.js';
import { watchCpu } from './cpu-per-trip.js';
import type { WorkerHandle } from './worker-process.js';
import { awaitCount, localServerPid, type RedisServer } from './redis-db.js';

/**
 * `config.warmup` untimed round trips, then `config.latencyRuns` timed ones, one after another;
 * with the CPU the timed ones cost this process, its worker processes and `server` (the Redis
 * the row uses, when it runs on this machine), per round trip (cpu-per-trip.ts).
 */
export async function timeRoundTrips(config: ScenarioConfig, roundTrip: () => Promise<void>, server: RedisServer | null = null): Promise<LatencyFigures> {
  const serverPid = server ? await localServerPid(server) : null;
  for (let i = 0; i < config.warmup; i++) await roundTrip();
  const samplesMs: number[] = [];
  const cpu = watchCpu(serverPid);
  for (let i = 0; i < config.latencyRuns; i++) {
    const start = performance.now();
    await roundTrip();
    samplesMs.push(performance.now() - start);
  }
  return { samplesMs, cpu: cpu?.stop(config.latencyRuns) ?? null };
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
