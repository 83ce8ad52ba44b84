/**
 * The timed parts every contestant shares, so each row's clock starts and stops at the same places.
 */
import type { LatencyFigures, ScenarioConfig } from './contestant.js';
import { watchCpu } from './cpu-per-trip.js';
import type { WorkerHandle } from './worker-process.js';
import { awaitCount, localServerPid, type RedisServer } from './redis-db.js';

/**
 * The latency scenario's round trips, one after another (LatencyFigures): `config.warmup`
 * untimed, `config.latencyRuns` timed (the new worker's window), `config.settle` untimed,
 * `config.latencyRuns` timed (the warmed worker's window); with the CPU the warmed window cost this
 * process, its worker processes and `server` (the Redis the row uses, when it runs on this
 * machine), per round trip (cpu-per-trip.ts); then stops `worker` for its count of tasks run.
 */
export async function timeRoundTrips(config: ScenarioConfig, roundTrip: () => Promise<void>, worker: WorkerHandle, server: RedisServer | null = null): Promise<LatencyFigures> {
  const serverPid = server ? await localServerPid(server) : null;
  const untimed = async (n: number) => {
    for (let i = 0; i < n; i++) await roundTrip();
  };
  const timed = async () => {
    const samplesMs: number[] = [];
    for (let i = 0; i < config.latencyRuns; i++) {
      const start = performance.now();
      await roundTrip();
      samplesMs.push(performance.now() - start);
    }
    return samplesMs;
  };
  await untimed(config.warmup);
  const newSamplesMs = await timed();
  await untimed(config.settle);
  const cpu = watchCpu(serverPid);
  const samplesMs = await timed();
  const cpuPerTrip = cpu?.stop(config.latencyRuns) ?? null;
  const { succeeded } = await worker.stop();
  return { newSamplesMs, samplesMs, cpu: cpuPerTrip, workerSucceeded: succeeded };
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
