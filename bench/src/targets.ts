/**
 * What the rows are compared on: the ratios printed (celeriac-redis against each Redis peer,
 * celeriac-memory against celeriac-sqlite, celeriac-redis and bee-queue against the raw floor row)
 * and the issues' targets, checked and recorded.
 *
 * A ratio is subject / peer: for rates, above 1 means the subject is faster; for latencies (the
 * time of a round trip), below 1 means the subject is quicker.
 */
import type { LatencyRounds } from './latency-rounds.js';
import type { RowResult } from './runner.js';

/** `p50New`: the new worker's window; `p50`, `p99`: the warmed worker's (LatencyFigures). */
export type Metric = 'enqueue' | 'processLow' | 'process' | 'endToEnd' | 'p50New' | 'p50' | 'p99';

export const METRICS: readonly Metric[] = ['enqueue', 'processLow', 'process', 'endToEnd', 'p50New', 'p50', 'p99'];

/** Tasks per second for rates, milliseconds for latencies. */
export function metricValue(row: RowResult, metric: Metric): number {
  switch (metric) {
    case 'p50New':
      return row.latency.newWorker.p50Ms;
    case 'p50':
      return row.latency.p50Ms;
    case 'p99':
      return row.latency.p99Ms;
    default:
      return row[metric].perSecond;
  }
}

export const isLatency = (metric: Metric): boolean => metric === 'p50New' || metric === 'p50' || metric === 'p99';

/** [subject, peer] pairs whose ratios are printed, when both rows ran. */
export const RATIO_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['celeriac-memory', 'celeriac-sqlite'],
  ['celeriac-redis', 'bullmq-redis'],
  ['celeriac-redis', 'bee-queue-redis'],
  ['celeriac-redis', 'celery-py-redis'],
];

/** The Redis group's floor row (raw-redis/): celeriac's Redis commands on ioredis, no framework. */
export const FLOOR_ROW = 'raw-ioredis-redis';

/**
 * [row, floor] pairs printed as ratios to the floor row, in the ratios table and as latency lines
 * (report-table.ts): how far each row is above what the same Redis work costs with no framework.
 * Not targets.
 */
export const FLOOR_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['celeriac-redis', FLOOR_ROW],
  ['bee-queue-redis', FLOOR_ROW],
];

export interface TargetSpec {
  readonly contestant: string;
  readonly metric: Metric;
  /** The row the value is a ratio to; null for an absolute figure. */
  readonly against: string | null;
  readonly relation: 'atLeast' | 'atMost';
  readonly bound: number;
}

export interface Target extends TargetSpec {
  /** The figure or ratio measured. */
  readonly value: number;
  /**
   * What `value` is: "run", the rows' figures in the main run; "rounds", the median of the
   * latency rounds' ratios (latency-rounds.ts), for a latency target whose rows ran in rounds.
   */
  readonly basis: 'run' | 'rounds';
  /** With basis "rounds": how many. */
  readonly rounds?: number;
  readonly met: boolean;
}

const atLeast = (metric: Metric, against: string, bound: number): TargetSpec => ({ contestant: 'celeriac-redis', metric, against, relation: 'atLeast', bound });

export const TARGETS: readonly TargetSpec[] = [
  // Issue 2: the embedded store, end to end, one worker process.
  { contestant: 'celeriac-sqlite', metric: 'endToEnd', against: null, relation: 'atLeast', bound: 5_000 },
  // Issue 3: Redis against its peers.
  ...(['processLow', 'process', 'endToEnd'] as const).flatMap((m) => [atLeast(m, 'bullmq-redis', 1.5), atLeast(m, 'celery-py-redis', 10)]),
  atLeast('enqueue', 'bullmq-redis', 1),
  { contestant: 'celeriac-redis', metric: 'p50', against: 'bee-queue-redis', relation: 'atMost', bound: 1 },
];

/**
 * The targets whose rows all ran, with what was measured. A warmed-p50 ratio whose two rows ran
 * in latency rounds is the median of the rounds' ratios; any other, the main run's figures.
 */
export function evaluateTargets(rows: readonly RowResult[], rounds: LatencyRounds | null = null): Target[] {
  const find = (name: string | null) => (name === null ? undefined : rows.find((r) => r.contestant === name));
  return TARGETS.flatMap((spec): Target[] => {
    const subject = find(spec.contestant);
    const peer = find(spec.against);
    if (!subject || (spec.against !== null && !peer)) return [];
    const paired = spec.metric === 'p50' ? rounds?.ratios.find((q) => q.subject === spec.contestant && q.peer === spec.against) : undefined;
    const value = paired ? paired.p50Median : metricValue(subject, spec.metric) / (peer ? metricValue(peer, spec.metric) : 1);
    const met = spec.relation === 'atLeast' ? value >= spec.bound : value <= spec.bound;
    const basis = paired ? { basis: 'rounds' as const, rounds: paired.p50.length } : { basis: 'run' as const };
    return [{ ...spec, value: Math.round(value * 1000) / 1000, met, ...basis }];
  });
}

/** "celeriac-redis process (c=100) >= 1.5× bullmq-redis: met (2.10×)" */
export function describeTarget(t: Target, label: (metric: Metric) => string): string {
  const sign = t.relation === 'atLeast' ? '>=' : '<=';
  const verdict = t.met ? 'met' : 'NOT met';
  if (t.against === null) return `${t.contestant} ${label(t.metric)} ${sign} ${t.bound.toLocaleString('en-US')}: ${verdict} (${Math.round(t.value).toLocaleString('en-US')})`;
  const basis = t.basis === 'rounds' ? `, median of ${t.rounds} rounds` : '';
  return `${t.contestant} ${label(t.metric)} ${sign} ${t.bound}× ${t.against}: ${verdict} (${t.value.toFixed(2)}×${basis})`;
}
