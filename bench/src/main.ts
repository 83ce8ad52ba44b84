/**
 * `npm run bench`: runs every contestant through the scenarios (contestant.ts), prints the tables
 * and writes the JSON record under bench/results/. Exits 1 when any count does not add up.
 */
import { allContestants, selectContestants } from './contestants.js';
import { parseOptions, USAGE } from './options.js';
import { formatReport } from './report-table.js';
import { describeCommit, describeMachine, writeRunRecord, type RunRecord, type Target } from './results-file.js';
import { runContestant, type RowResult } from './runner.js';

/** The bar: end to end on SQLite, one worker process, this class of machine. */
const TARGETS = [{ contestant: 'celeriac-sqlite', atLeast: 5_000 }] as const;

async function main(): Promise<number> {
  // Exiting (rather than dying of the signal) runs the exit hooks that stop worker processes and
  // remove temp files.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      process.exit(130);
    });
  }
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const contestants = selectContestants(allContestants(options), options.only);
  const { config } = options;
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  log(`${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}`);
  if (machine.loadAverage > machine.cpus) {
    log(`warning: load average ${machine.loadAverage} on ${machine.cpus} CPUs: other processes are competing, figures will be low`);
  }
  log(`${config.tasks} tasks (sent ${config.batch} per call), concurrency ${config.concurrency}, ${config.latencyRuns} latency round trips`);

  const rows: RowResult[] = [];
  for (const contestant of contestants) rows.push(await runContestant(contestant, config, log));

  const targets: Target[] = TARGETS.filter((t) => rows.some((r) => r.contestant === t.contestant)).map((t) => {
    const value = rows.find((r) => r.contestant === t.contestant)?.endToEnd.perSecond ?? null;
    return { ...t, metric: 'endToEnd.perSecond', value, met: value !== null && value >= t.atLeast };
  });
  console.log('');
  for (const line of formatReport(rows)) console.log(line);
  for (const t of targets) {
    console.log(`\ntarget: ${t.contestant} end to end >= ${t.atLeast.toLocaleString('en-US')} tasks/s: ${t.met ? 'met' : 'NOT met'} (${Math.round(t.value ?? 0).toLocaleString('en-US')})`);
  }

  const record: RunRecord = { schema: 1, startedAt, finishedAt: new Date().toISOString(), machine, commit: describeCommit(), config, rows, targets };
  if (options.save) for (const path of writeRunRecord(options.outDir, record)) log(`wrote ${path}`);
  const problems = rows.flatMap((r) => r.problems.map((p) => `${r.contestant}: ${p}`));
  for (const p of problems) log(`PROBLEM ${p}`);
  return problems.length ? 1 : 0;
}

function log(line: string): void {
  process.stderr.write(`bench | ${line}\n`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
