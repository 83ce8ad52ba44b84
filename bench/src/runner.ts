/**
 * Runs every contestant through the scenarios in the same order (bulk at `concurrency`, bulk at
 * `lowConcurrency`, end to end, latency),
 * turns what they measured into rates and percentiles, and checks every count: a row whose
 * counts do not add up is reported as a problem, never silently printed.
 */
import type { Contestant, ScenarioConfig, Traits } from './contestant.js';
import type { RoundTripCpu } from './cpu-per-trip.js';
import { perSecond, round, summarizeLatency, type LatencySummary } from './stats.js';

export interface ThroughputFigure {
  readonly tasks: number;
  readonly ms: number;
  readonly perSecond: number;
}

/** What a worker did in a timed phase: tasks run, results found, and its CPU time per task. */
export interface WorkerFigure {
  readonly verified: number;
  readonly workerSucceeded: number;
  /** Worker process CPU time (user + system) per task, µs; null when not measurable. */
  readonly workerCpuUsPerTask: number | null;
}

export interface RowResult {
  readonly contestant: string;
  readonly traits: Traits;
  readonly concurrency: number;
  readonly batch: number;
  readonly enqueue: ThroughputFigure & { readonly queued: number };
  readonly process: ThroughputFigure & WorkerFigure;
  /** The bulk processing again at `lowConcurrency`, on `tasks` (fewer than N when the row caps it). */
  readonly processLow: ThroughputFigure & WorkerFigure & { readonly concurrency: number; readonly queued: number };
  readonly endToEnd: ThroughputFigure & WorkerFigure;
  /**
   * The warmed worker's window (see LatencyFigures), with the CPU its round trips cost, per trip
   * (null where it cannot be read, e.g. not Linux); `newWorker`: the same worker's first window.
   */
  readonly latency: LatencySummary & {
    readonly warmup: number;
    readonly settle: number;
    readonly cpu: RoundTripCpu | null;
    readonly newWorker: LatencySummary;
  };
  /** Counts that did not match what was sent; empty when the row is sound. */
  readonly problems: readonly string[];
}

export type Progress = (line: string) => void;

export async function runContestant(contestant: Contestant, config: ScenarioConfig, progress: Progress): Promise<RowResult> {
  const { name } = contestant;
  progress(`${name}: bulk enqueue ${config.tasks}, then process them (concurrency ${config.concurrency})`);
  const bulk = await contestant.bulk(config);
  const low = { ...config, concurrency: config.lowConcurrency, tasks: Math.min(config.tasks, contestant.maxTasksAtLowConcurrency ?? config.tasks) };
  progress(`${name}: bulk enqueue ${low.tasks}, then process them (concurrency ${low.concurrency})`);
  const bulkLow = await contestant.bulk(low);
  progress(`${name}: end to end, ${config.tasks} tasks`);
  const e2e = await contestant.endToEnd(config);
  progress(`${name}: latency, ${config.latencyRuns} sequential round trips (+${config.warmup} warm-up), ${config.settle} more, ${config.latencyRuns} again`);
  const latency = await contestant.latency(config);

  const problems: string[] = [];
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) problems.push(`${what}: ${got}, expected ${want}`);
  };
  expect('bulk: tasks sent', bulk.tasks, config.tasks);
  expect('bulk: messages queued after the enqueue', bulk.queued, config.tasks);
  expect('bulk: results stored', bulk.verified, config.tasks);
  expect('bulk: tasks the worker ran', bulk.workerSucceeded, config.tasks);
  expect(`bulk at concurrency ${low.concurrency}: tasks sent`, bulkLow.tasks, low.tasks);
  expect(`bulk at concurrency ${low.concurrency}: messages queued after the enqueue`, bulkLow.queued, low.tasks);
  expect(`bulk at concurrency ${low.concurrency}: results stored`, bulkLow.verified, low.tasks);
  expect(`bulk at concurrency ${low.concurrency}: tasks the worker ran`, bulkLow.workerSucceeded, low.tasks);
  expect('end to end: tasks sent', e2e.tasks, config.tasks);
  expect('end to end: results stored', e2e.verified, config.tasks);
  expect('end to end: tasks the worker ran', e2e.workerSucceeded, config.tasks);
  expect('latency: round trips timed on the new worker', latency.newSamplesMs.length, config.latencyRuns);
  expect('latency: round trips timed on the warmed worker', latency.samplesMs.length, config.latencyRuns);
  expect('latency: tasks the worker ran', latency.workerSucceeded, config.warmup + 2 * config.latencyRuns + config.settle);

  const figure = (tasks: number, ms: number): ThroughputFigure => ({ tasks, ms: round(ms), perSecond: round(perSecond(tasks, ms), 1) });
  const worker = (f: { tasks: number; verified: number; workerSucceeded: number; workerCpuMs: number | null }): WorkerFigure => ({
    verified: f.verified,
    workerSucceeded: f.workerSucceeded,
    workerCpuUsPerTask: f.workerCpuMs === null ? null : round((f.workerCpuMs * 1000) / f.tasks, 1),
  });
  const summary = (samplesMs: readonly number[]): LatencySummary => {
    const s = summarizeLatency(samplesMs);
    return { runs: s.runs, p50Ms: round(s.p50Ms), p90Ms: round(s.p90Ms), p99Ms: round(s.p99Ms), meanMs: round(s.meanMs), minMs: round(s.minMs), maxMs: round(s.maxMs) };
  };
  return {
    contestant: name,
    traits: contestant.traits,
    concurrency: config.concurrency,
    batch: config.batch,
    enqueue: { ...figure(bulk.tasks, bulk.enqueueMs), queued: bulk.queued },
    process: { ...figure(bulk.tasks, bulk.processMs), ...worker(bulk) },
    processLow: { ...figure(bulkLow.tasks, bulkLow.processMs), ...worker(bulkLow), concurrency: low.concurrency, queued: bulkLow.queued },
    endToEnd: { ...figure(e2e.tasks, e2e.ms), ...worker(e2e) },
    latency: {
      ...summary(latency.samplesMs),
      warmup: config.warmup,
      settle: config.settle,
      cpu: latency.cpu ?? null,
      newWorker: summary(latency.newSamplesMs),
    },
    problems,
  };
}
