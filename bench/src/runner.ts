/**
 * Runs every contestant through the scenarios in the same order (bulk, end to end, latency),
 * turns what they measured into rates and percentiles, and checks every count: a row whose
 * counts do not add up is reported as a problem, never silently printed.
 */
import type { Contestant, ScenarioConfig, Traits } from './contestant.js';
import { perSecond, round, summarizeLatency, type LatencySummary } from './stats.js';

export interface ThroughputFigure {
  readonly tasks: number;
  readonly ms: number;
  readonly perSecond: number;
}

export interface RowResult {
  readonly contestant: string;
  readonly traits: Traits;
  readonly concurrency: number;
  readonly batch: number;
  readonly enqueue: ThroughputFigure & { readonly queued: number };
  readonly process: ThroughputFigure & { readonly verified: number; readonly workerSucceeded: number };
  readonly endToEnd: ThroughputFigure & { readonly verified: number; readonly workerSucceeded: number };
  readonly latency: LatencySummary & { readonly warmup: number };
  /** Counts that did not match what was sent; empty when the row is sound. */
  readonly problems: readonly string[];
}

export type Progress = (line: string) => void;

export async function runContestant(contestant: Contestant, config: ScenarioConfig, progress: Progress): Promise<RowResult> {
  const { name } = contestant;
  progress(`${name}: bulk enqueue ${config.tasks}, then process them (concurrency ${config.concurrency})`);
  const bulk = await contestant.bulk(config);
  progress(`${name}: end to end, ${config.tasks} tasks`);
  const e2e = await contestant.endToEnd(config);
  progress(`${name}: latency, ${config.latencyRuns} sequential round trips (+${config.warmup} warm-up)`);
  const latency = await contestant.latency(config);

  const problems: string[] = [];
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) problems.push(`${what}: ${got}, expected ${want}`);
  };
  expect('bulk: tasks sent', bulk.tasks, config.tasks);
  expect('bulk: messages queued after the enqueue', bulk.queued, config.tasks);
  expect('bulk: results stored', bulk.verified, config.tasks);
  expect('bulk: tasks the worker ran', bulk.workerSucceeded, config.tasks);
  expect('end to end: tasks sent', e2e.tasks, config.tasks);
  expect('end to end: results stored', e2e.verified, config.tasks);
  expect('end to end: tasks the worker ran', e2e.workerSucceeded, config.tasks);
  expect('latency: round trips timed', latency.samplesMs.length, config.latencyRuns);

  const figure = (tasks: number, ms: number): ThroughputFigure => ({ tasks, ms: round(ms), perSecond: round(perSecond(tasks, ms), 1) });
  const lat = summarizeLatency(latency.samplesMs);
  return {
    contestant: name,
    traits: contestant.traits,
    concurrency: config.concurrency,
    batch: config.batch,
    enqueue: { ...figure(bulk.tasks, bulk.enqueueMs), queued: bulk.queued },
    process: { ...figure(bulk.tasks, bulk.processMs), verified: bulk.verified, workerSucceeded: bulk.workerSucceeded },
    endToEnd: { ...figure(e2e.tasks, e2e.ms), verified: e2e.verified, workerSucceeded: e2e.workerSucceeded },
    latency: {
      runs: lat.runs,
      warmup: config.warmup,
      p50Ms: round(lat.p50Ms),
      p90Ms: round(lat.p90Ms),
      p99Ms: round(lat.p99Ms),
      meanMs: round(lat.meanMs),
      minMs: round(lat.minMs),
      maxMs: round(lat.maxMs),
    },
    problems,
  };
}
