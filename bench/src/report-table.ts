/**
 * The printed report: a table of figures, a table of what each row includes, and ratios of every
 * row to the first one. Markdown tables, so a run can be pasted into an issue as is.
 */
import type { RowResult } from './runner.js';

export function formatReport(rows: readonly RowResult[]): string[] {
  const figures = table(
    ['contestant', 'enqueue (tasks/s)', 'process (tasks/s)', 'end to end (tasks/s)', 'latency p50 (ms)', 'p99 (ms)', 'concurrency'],
    rows.map((r) => [
      r.contestant,
      rate(r.enqueue.perSecond),
      rate(r.process.perSecond),
      rate(r.endToEnd.perSecond),
      ms(r.latency.p50Ms),
      ms(r.latency.p99Ms),
      String(r.concurrency),
    ]),
    true,
  );
  const traits = table(
    ['contestant', 'worker', 'results stored', 'durability', 'acks', 'store'],
    rows.map((r) => [r.contestant, r.traits.worker, r.traits.resultsStored, r.traits.durability, r.traits.acks, r.traits.store]),
  );
  return [...figures, '', ...traits, ...ratios(rows)];
}

/** Each row against the first: rates (higher is better) and latencies (lower is better). */
function ratios(rows: readonly RowResult[]): string[] {
  const [base, ...others] = rows;
  if (!base) return [];
  return others.map((r) => {
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    return (
      `\n${r.contestant} vs ${base.contestant}: enqueue ${x(r.enqueue.perSecond, base.enqueue.perSecond)}, ` +
      `process ${x(r.process.perSecond, base.process.perSecond)}, end to end ${x(r.endToEnd.perSecond, base.endToEnd.perSecond)} ` +
      `the rate; latency p50 ${x(r.latency.p50Ms, base.latency.p50Ms)}, p99 ${x(r.latency.p99Ms, base.latency.p99Ms)} the time`
    );
  });
}

function rate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}

function ms(value: number): string {
  return value.toFixed(2);
}

/** A Markdown table; with `numeric`, every column but the first is right-aligned. */
function table(header: readonly string[], body: ReadonlyArray<readonly string[]>, numeric = false): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const right = (i: number) => numeric && i > 0;
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (right(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)];
}
