/**
 * The end of a run: counts from the tasks' result metadata, as a table for people and as one JSON
 * line for scripts and tests.
 */
import type { ResultMeta } from '@celeriac/core';

export interface DemoSummary {
  tasks: number;
  succeeded: number;
  failed: number;
  /** Tasks that needed at least one retry (whatever their final state). */
  retriedTasks: number;
  /** Retries over all tasks (`retries` in the extended result metadata). */
  retries: number;
  /** Rows in grid_squares; must equal `succeeded`. */
  rows: number;
  elapsedSeconds: number;
  tasksPerSecond: number;
  workerExitCode: number | null;
}

export function summarize(metas: readonly ResultMeta[], rows: number, elapsedMs: number, workerExitCode: number | null): DemoSummary {
  const retriesOf = (m: ResultMeta) => (typeof m.retries === 'number' ? m.retries : 0);
  const elapsedSeconds = elapsedMs / 1000;
  return {
    tasks: metas.length,
    succeeded: metas.filter((m) => m.status === 'SUCCESS').length,
    failed: metas.filter((m) => m.status !== 'SUCCESS').length,
    retriedTasks: metas.filter((m) => retriesOf(m) > 0).length,
    retries: metas.reduce((sum, m) => sum + retriesOf(m), 0),
    rows,
    elapsedSeconds: round(elapsedSeconds, 2),
    tasksPerSecond: round(metas.length / Math.max(elapsedSeconds, 0.001), 1),
    workerExitCode,
  };
}

export function formatSummary(s: DemoSummary): string[] {
  const pct = (n: number) => `${((100 * n) / Math.max(1, s.tasks)).toFixed(1)}%`;
  const rows: [string, string][] = [
    ['tasks', String(s.tasks)],
    ['succeeded', `${s.succeeded} (${pct(s.succeeded)})`],
    ['retried', `${s.retriedTasks} tasks (${pct(s.retriedTasks)}), ${s.retries} retries in all`],
    ['failed', `${s.failed} (${pct(s.failed)}) for good`],
    ['squares stored', `${s.rows} ${s.rows === s.succeeded ? '(= succeeded)' : `(expected ${s.succeeded}!)`}`],
    ['elapsed', `${s.elapsedSeconds.toFixed(2)} s`],
    ['throughput', `${s.tasksPerSecond.toFixed(1)} tasks/s`],
    ['worker exit', String(s.workerExitCode)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const rule = `+${'-'.repeat(width + 2)}+${'-'.repeat(Math.max(...rows.map(([, v]) => v.length)) + 2)}+`;
  return [rule, ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v.padEnd(rule.length - width - 7)} |`), rule];
}

/** True when the run adds up: every task ended, each success stored one square, the worker exited 0. */
export function isConsistent(s: DemoSummary): boolean {
  return s.succeeded + s.failed === s.tasks && s.rows === s.succeeded && s.workerExitCode === 0;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
