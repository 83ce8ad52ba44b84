/**
 * The printed report: a table of figures, a table of what each row includes, and a table of
 * ratios (targets.ts, RATIO_PAIRS). Markdown tables, so a run can be pasted into an issue as is.
 */
import type { ScenarioConfig } from './contestant.js';
import type { RowResult } from './runner.js';
import { FLOOR_PAIRS, FLOOR_ROW, isLatency, METRICS, metricValue, RATIO_PAIRS, type Metric } from './targets.js';

/** Column headings, e.g. "process c=100 (tasks/s)". */
export function metricLabel(metric: Metric, config: Pick<ScenarioConfig, 'concurrency' | 'lowConcurrency'>): string {
  switch (metric) {
    case 'enqueue':
      return 'enqueue';
    case 'processLow':
      return `process c=${config.lowConcurrency}`;
    case 'process':
      return `process c=${config.concurrency}`;
    case 'endToEnd':
      return `end to end c=${config.concurrency}`;
    case 'p50New':
      return 'latency p50 new worker';
    case 'p50':
      return 'latency p50';
    case 'p99':
      return 'latency p99';
  }
}

export function formatReport(rows: readonly RowResult[], config: ScenarioConfig): string[] {
  const heading = (m: Metric) => `${metricLabel(m, config)} (${isLatency(m) ? 'ms' : 'tasks/s'})`;
  const cell = (r: RowResult, m: Metric) => {
    const text = isLatency(m) ? metricValue(r, m).toFixed(2) : rate(metricValue(r, m));
    // A row that ran fewer tasks there (see Contestant.maxTasksAtLowConcurrency) says so.
    return m === 'processLow' && r.processLow.tasks !== config.tasks ? `${text} (N=${rate(r.processLow.tasks)})` : text;
  };
  const figures = table(['contestant', ...METRICS.map(heading)], rows.map((r) => [r.contestant, ...METRICS.map((m) => cell(r, m))]), true);
  const first = config.warmup + 1;
  const warmedFirst = config.warmup + config.latencyRuns + config.settle + 1;
  const windows = `Latency windows, one worker per row, started for the latency scenario (a process of its own in every row but celeriac-memory, whose worker runs in the bench process; the producer is the bench process, already warm from the earlier scenarios, or for Python Celery a driver process of its own): "new worker" = round trips ${first.toLocaleString('en-US')}–${(first + config.latencyRuns - 1).toLocaleString('en-US')} after the worker started (its code still being compiled: V8 compiles a path's functions after they have run for a while); p50 and p99 = round trips ${warmedFirst.toLocaleString('en-US')}–${(warmedFirst + config.latencyRuns - 1).toLocaleString('en-US')} of the same worker, as it runs for most of its life.`;
  const traits = table(
    ['contestant', 'worker', 'concurrency', 'results stored', 'durability', 'acks', 'store'],
    rows.map((r) => [r.contestant, r.traits.worker, `${r.processLow.concurrency} and ${r.concurrency}`, r.traits.resultsStored, r.traits.durability, r.traits.acks, r.traits.store]),
  );
  return [...figures, '', windows, '', ...traits, ...workerCpu(rows, config), ...latencyCpu(rows), ...ratios(rows, config), ...floorLines(rows)];
}

/**
 * The CPU a timed latency round trip cost each process (cpu-per-trip.ts): on a machine with few
 * CPUs the three processes of a round trip (and their compiler threads) wait for one another.
 */
function latencyCpu(rows: readonly RowResult[]): string[] {
  const measured = rows.filter((r) => r.latency.cpu);
  if (!measured.length) return [];
  const us = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(0));
  const body = measured.map((r) => {
    const { client, worker, server } = r.latency.cpu!;
    const total = [client, worker, server].reduce((sum, part) => sum + (part ? part.mainUs + part.othersUs : 0), 0);
    return [
      r.contestant,
      us(client.mainUs),
      us(client.othersUs),
      us(worker?.mainUs),
      us(worker?.othersUs),
      us(server ? server.mainUs + server.othersUs : undefined),
      us(total),
      us(client.mainWaitUs + (worker?.mainWaitUs ?? 0)),
    ];
  });
  return [
    '',
    'Latency, warmed window: CPU time per timed round trip (µs on CPU, Linux schedstat; "other threads" = V8 compiler and GC helpers, libuv pool; worker = the processes the bench started; "-": in this process, or Redis not on this machine), and how long the two main threads waited for a CPU:',
    '',
    ...table(['contestant', 'producer main', 'producer other threads', 'worker main', 'worker other threads', 'redis-server', 'total', 'main threads waiting for a CPU'], body, true),
  ];
}

/** Worker CPU time per task, where the worker is a process of its own. */
function workerCpu(rows: readonly RowResult[], config: ScenarioConfig): string[] {
  const phases = ['processLow', 'process', 'endToEnd'] as const;
  const us = (v: number | null) => (v === null ? '-' : v.toFixed(0));
  const body = rows.filter((r) => phases.some((p) => r[p].workerCpuUsPerTask !== null)).map((r) => [r.contestant, ...phases.map((p) => us(r[p].workerCpuUsPerTask))]);
  if (!body.length) return [];
  return [
    '',
    'Worker process CPU time per task (µs, user + system, from the start of processing until it stopped; Python Celery: while its driver ran, enqueue included):',
    '',
    ...table(['contestant', ...phases.map((p) => metricLabel(p, config))], body, true),
  ];
}

/** Subject / peer for every pair in RATIO_PAIRS and FLOOR_PAIRS whose rows both ran. */
function ratios(rows: readonly RowResult[], config: ScenarioConfig): string[] {
  const find = (name: string) => rows.find((r) => r.contestant === name);
  const body = [...RATIO_PAIRS, ...FLOOR_PAIRS].flatMap(([a, b]) => {
    const subject = find(a);
    const peer = find(b);
    if (!subject || !peer) return [];
    return [[`${a} / ${b}`, ...METRICS.map((m) => `${(metricValue(subject, m) / metricValue(peer, m)).toFixed(2)}×`)]];
  });
  if (!body.length) return [];
  const header = ['ratio', ...METRICS.map((m) => `${metricLabel(m, config)}${isLatency(m) ? ' (time)' : ''}`)];
  return ['', 'Ratios: rates above 1× and times below 1× favour the first row.', '', ...table(header, body, true)];
}

/**
 * Latency p50 over the floor row (not a target), and the celeriac-redis − bee-queue-redis gap
 * split into the floor's distance to bee-queue (what the protocol's commands cost against
 * bee-queue's) and celeriac's distance to the floor (what the framework adds).
 */
function floorLines(rows: readonly RowResult[]): string[] {
  const p50 = (name: string) => rows.find((r) => r.contestant === name)?.latency.p50Ms;
  const floor = p50(FLOOR_ROW);
  if (floor === undefined) return [];
  const ms = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)} ms`;
  const lines = FLOOR_PAIRS.flatMap(([name]) => {
    const value = p50(name);
    if (value === undefined) return [];
    return [`floor (not a target): ${name} latency p50 ${(value / floor).toFixed(2)}× ${FLOOR_ROW} (${value.toFixed(2)} vs ${floor.toFixed(2)} ms, ${ms(value - floor)})`];
  });
  const [celeriac, bee] = [p50('celeriac-redis'), p50('bee-queue-redis')];
  if (celeriac !== undefined && bee !== undefined) {
    lines.push(`floor (not a target): latency p50 celeriac-redis − bee-queue-redis ${ms(celeriac - bee)} = ${FLOOR_ROW} − bee-queue-redis ${ms(floor - bee)} (the protocol's commands) + celeriac-redis − ${FLOOR_ROW} ${ms(celeriac - floor)} (the framework)`);
  }
  return lines.length ? ['', ...lines] : [];
}

function rate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}

/** A Markdown table; with `numeric`, every column but the first is right-aligned. */
export function table(header: readonly string[], body: ReadonlyArray<readonly string[]>, numeric = false): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const right = (i: number) => numeric && i > 0;
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (right(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)];
}
