/**
 * Latency in rounds. After every row has run its scenarios, the rows whose latencies are compared
 * (celeriac-redis, bee-queue-redis and the floor) run the latency scenario again, `rounds` times,
 * in alternating order (A B C, then C B A, ...), each time with a new worker. This machine's speed
 * drifts by a third and more between minutes, and a row's own latency scenario runs a minute or
 * more after another's: a single pair of windows can differ by more than the rows do. Within a
 * round the windows are seconds apart, so each round's ratio compares like with like, and the
 * median of the rounds' ratios is what the p50 target is judged on (targets.ts).
 */
import type { Contestant, ScenarioConfig } from './contestant.js';
import { table } from './report-table.js';
import type { Progress } from './runner.js';
import { round, summarizeLatency } from './stats.js';
import { FLOOR_ROW } from './targets.js';

/** The rows run in rounds, when they are in the run (in round 1's order). */
export const ROUND_ROWS: readonly string[] = ['celeriac-redis', 'bee-queue-redis', FLOOR_ROW];

/** [subject, peer] ratios reported per round; the first is the p50 target's. */
export const ROUND_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['celeriac-redis', 'bee-queue-redis'],
  ['celeriac-redis', FLOOR_ROW],
  ['bee-queue-redis', FLOOR_ROW],
];

/** One row's windows in one round (ms): the warmed worker's p50 and p99, the new worker's p50. */
export interface RoundFigure {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p50NewMs: number;
}

export interface RoundRatio {
  readonly subject: string;
  readonly peer: string;
  /** subject p50 / peer p50 of each round, warmed windows. */
  readonly p50: readonly number[];
  readonly p50Median: number;
  /** The same for the new worker's windows. */
  readonly p50New: readonly number[];
  readonly p50NewMedian: number;
}

export interface LatencyRounds {
  /** Rows in the rounds, in round 1's order. */
  readonly rows: readonly string[];
  /** Per round, in the order run: the row order and each row's figures. */
  readonly rounds: ReadonlyArray<{ readonly order: readonly string[]; readonly figures: Readonly<Record<string, RoundFigure>> }>;
  readonly ratios: readonly RoundRatio[];
  /** Counts that did not add up (samples timed, tasks the worker ran), as "<row> round N: …". */
  readonly problems: readonly string[];
}

/**
 * Runs the rounds over those of `contestants` named in ROUND_ROWS; null when `rounds` is 0 or
 * fewer than two of them ran (nothing to compare).
 */
export async function runLatencyRounds(contestants: readonly Contestant[], config: ScenarioConfig, rounds: number, progress: Progress): Promise<LatencyRounds | null> {
  const lineup = ROUND_ROWS.flatMap((name) => contestants.filter((c) => c.name === name));
  if (rounds < 1 || lineup.length < 2) return null;
  const done: { order: string[]; figures: Record<string, RoundFigure> }[] = [];
  const problems: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? lineup : [...lineup].reverse();
    progress(`latency round ${r + 1} of ${rounds}: ${order.map((c) => c.name).join(', ')}`);
    const figures: Record<string, RoundFigure> = {};
    for (const contestant of order) {
      const got = await contestant.latency(config);
      const expect = (what: string, value: number, want: number) => {
        if (value !== want) problems.push(`${contestant.name} round ${r + 1}: ${what}: ${value}, expected ${want}`);
      };
      expect('round trips timed on the new worker', got.newSamplesMs.length, config.latencyRuns);
      expect('round trips timed on the warmed worker', got.samplesMs.length, config.latencyRuns);
      expect('tasks the worker ran', got.workerSucceeded, config.warmup + 2 * config.latencyRuns + config.settle);
      const warmed = summarizeLatency(got.samplesMs);
      figures[contestant.name] = { p50Ms: round(warmed.p50Ms), p99Ms: round(warmed.p99Ms), p50NewMs: round(summarizeLatency(got.newSamplesMs).p50Ms) };
    }
    done.push({ order: order.map((c) => c.name), figures });
  }
  const ratios = ROUND_PAIRS.flatMap(([subject, peer]): RoundRatio[] => {
    if (!done[0]!.figures[subject] || !done[0]!.figures[peer]) return [];
    const per = (pick: (f: RoundFigure) => number) => done.map((d) => round(pick(d.figures[subject]!) / pick(d.figures[peer]!)));
    const p50 = per((f) => f.p50Ms);
    const p50New = per((f) => f.p50NewMs);
    return [{ subject, peer, p50, p50Median: median(p50), p50New, p50NewMedian: median(p50New) }];
  });
  return { rows: lineup.map((c) => c.name), rounds: done, ratios, problems };
}

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** The rounds' table (each row's warmed p50, new-worker p50 in brackets) and their ratios. */
export function formatRounds(rounds: LatencyRounds): string[] {
  const ms = (v: number) => v.toFixed(2);
  const body = rounds.rounds.map((r, i) => [
    String(i + 1),
    r.order.join(' → '),
    ...rounds.rows.map((name) => {
      const f = r.figures[name]!;
      return `${ms(f.p50Ms)} (${ms(f.p50NewMs)})`;
    }),
  ]);
  const ratioBody = rounds.ratios.map((q) => [`${q.subject} / ${q.peer}`, ...q.p50.map((v) => `${v.toFixed(2)}×`), `${q.p50Median.toFixed(2)}×`, `${q.p50NewMedian.toFixed(2)}×`]);
  return [
    `Latency in rounds: the latency scenario again, ${rounds.rounds.length} times per row, the rows in alternating order, a new worker each time (same windows as above). Each round's windows are seconds apart, so its ratios are not moved by the machine's drift between rows; the p50 target is judged on the median of the rounds' ratios.`,
    '',
    ...table(['round', 'order', ...rounds.rows.map((name) => `${name} p50 (new worker) ms`)], body),
    '',
    ...table(['ratio (time)', ...rounds.rounds.map((_, i) => `round ${i + 1}`), 'median', 'median, new worker'], ratioBody, true),
  ];
}
