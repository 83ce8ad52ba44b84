/**
 * What a contestant is: a queue (celeriac on some store, or a peer: BullMQ, bee-queue, Python
 * Celery) that runs the same three scenarios on the same no-op task. The runner calls
 * them in order and derives rates and percentiles; a contestant only measures and counts.
 *
 * Rules every implementation keeps, so rows compare:
 * - the task does nothing (no arguments, returns nothing) and its result is stored, unless the
 *   traits say otherwise;
 * - each scenario starts from an empty store and leaves nothing behind (temp files, processes);
 * - a timed section ends only when every task's result is stored; counting them again to verify
 *   happens after the clock stops.
 */

import type { RoundTripCpu } from './cpu-per-trip.js';

/** Sizes and settings shared by every contestant in a run. */
export interface ScenarioConfig {
  /** Tasks in the bulk and end-to-end scenarios. */
  readonly tasks: number;
  /** Tasks sent per bulk call (one broker round trip each where the broker allows). */
  readonly batch: number;
  /** Tasks one worker process runs at once (the runner sets it per scenario, see `lowConcurrency`). */
  readonly concurrency: number;
  /** The second concurrency the bulk processing is measured at (the first is `concurrency`). */
  readonly lowConcurrency: number;
  /** Sequential round trips timed for latency, in each of its two windows (new worker, warmed worker). */
  readonly latencyRuns: number;
  /** Untimed round trips before the first window (connections, caches). */
  readonly warmup: number;
  /**
   * Untimed round trips between the two windows: the first times a worker process's first round
   * trips (its code still being compiled), the second the same worker once its path is compiled.
   */
  readonly settle: number;
  /**
   * Times the latency rows compared on p50 run their latency scenario again after every row has
   * run, in alternating order (latency-rounds.ts); 0: not at all.
   */
  readonly latencyRounds: number;
  /** Header tasks of the chord group's one chord (chord/chord-row.ts). */
  readonly chordTasks: number;
}

/** What a row's figures include, printed next to them. */
export interface Traits {
  /** Broker and result store, e.g. "SQLite file (WAL)". */
  readonly store: string;
  /** Whether every task's result is written, and how. */
  readonly resultsStored: string;
  /** What survives a crash. */
  readonly durability: string;
  /** When the broker forgets a message: "early" = before the task runs, "late" = after it. */
  readonly acks: string;
  /** Where the worker runs relative to the producer, and how it runs tasks. */
  readonly worker: string;
}

/** Bulk: enqueue N with no worker running, then one worker processes the N already queued. */
export interface BulkFigures {
  readonly tasks: number;
  /** From the first send to the broker holding all N. */
  readonly enqueueMs: number;
  /** Messages the broker reported queued after the enqueue (untimed). */
  readonly queued: number;
  /** From the worker being told to start until every result is stored. */
  readonly processMs: number;
  /** SUCCESS results found by reading every id again (untimed). */
  readonly verified: number;
  /** Tasks the worker reports it ran successfully. */
  readonly workerSucceeded: number;
  /** CPU time of the worker process from the start of processing until it stopped; null if unknown. */
  readonly workerCpuMs: number | null;
}

/** End to end: a running worker; the clock runs from the first send to the last result stored. */
export interface EndToEndFigures {
  readonly tasks: number;
  readonly ms: number;
  readonly verified: number;
  readonly workerSucceeded: number;
  readonly workerCpuMs: number | null;
}

/**
 * Latency: one task at a time, send then wait for its result, on one worker process: `warmup`
 * untimed round trips, `latencyRuns` timed (the new worker's window), `settle` untimed,
 * `latencyRuns` timed again (the warmed worker's window).
 */
export interface LatencyFigures {
  /** One duration per round trip of the new worker's window, in milliseconds. */
  readonly newSamplesMs: readonly number[];
  /** One duration per round trip of the warmed worker's window, in milliseconds. */
  readonly samplesMs: readonly number[];
  /** What the warmed window's round trips cost in CPU, per trip (cpu-per-trip.ts); null or absent where unknown. */
  readonly cpu?: RoundTripCpu | null;
  /** Tasks the worker says it ran, counted once the last round trip is done (all of them, untimed ones included). */
  readonly workerSucceeded: number;
}

export interface Contestant {
  /** Row name, e.g. "celeriac-sqlite". */
  readonly name: string;
  readonly traits: Traits;
  /**
   * Most tasks the bulk scenario runs at `lowConcurrency`, for a queue that slow there (Python
   * Celery) that the full N would take minutes; the table shows the N used. @default config.tasks
   */
  readonly maxTasksAtLowConcurrency?: number;
  bulk(config: ScenarioConfig): Promise<BulkFigures>;
  endToEnd(config: ScenarioConfig): Promise<EndToEndFigures>;
  latency(config: ScenarioConfig): Promise<LatencyFigures>;
}
