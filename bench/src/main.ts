/**
 * `npm run bench`: runs every contestant through the scenarios (contestant.ts), prints the tables,
 * ratios and targets (targets.ts) and writes the JSON record under bench/results/. Exits 1 when any
 * count does not add up.
 */
import { allContestants, selectContestants } from './contestants.js';
import { parseOptions, USAGE } from './options.js';
import { formatReport, metricLabel } from './report-table.js';
import { describeCommit, describeMachine, RESULTS_SCHEMA, writeRunRecord, type RunRecord } from './results-file.js';
import { runContestant, type RowResult } from './runner.js';
import { describeTarget, evaluateTargets } from './targets.js';
import { formatAmqpReport, runAmqpGroup } from './amqp/amqp-group.js';
import { formatChordReport, runChordGroup } from './chord/chord-group.js';
import { formatRounds, runLatencyRounds } from './latency-rounds.js';

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
  const lineup = await allContestants(options);
  const contestants = selectContestants(lineup, options.only);
  if (!options.only) for (const { name, reason } of lineup.unavailable) log(`leaving out ${name}: ${reason}`);
  const { config } = options;
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  log(`${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}`);
  if (lineup.redis) log(`Redis ${lineup.redis.version} at ${options.redis.host}:${options.redis.port}, appendonly ${lineup.redis.appendonly}, save "${lineup.redis.save}"`);
  if (machine.loadAverage > machine.cpus) {
    log(`warning: load average ${machine.loadAverage} on ${machine.cpus} CPUs: other processes are competing, figures will be low`);
  }
  log(`${config.tasks} tasks (sent ${config.batch} per call), concurrency ${config.concurrency} and ${config.lowConcurrency}, ${config.latencyRuns} latency round trips on a new worker (after ${config.warmup}) and ${config.latencyRuns} on the same worker warmed (after ${config.settle} more)`);

  const rows: RowResult[] = [];
  for (const contestant of contestants) rows.push(await runContestant(contestant, config, log));
  const latencyRounds = await runLatencyRounds(contestants, config, config.latencyRounds, log);
  const amqp = await runAmqpGroup({ url: options.amqp, python: options.python, only: options.only, cpuProfileDir: options.cpuProfileDir }, config, log);
  const chordOptions = { redis: options.redis, redisInfo: lineup.redis, redisDb: options.redisDb, python: options.python, only: options.only, cpuProfileDir: options.cpuProfileDir };
  const chord = await runChordGroup(chordOptions, config, log);

  const targets = evaluateTargets(rows, latencyRounds);
  console.log('');
  if (rows.length) for (const line of formatReport(rows, config)) console.log(line);
  if (latencyRounds) {
    console.log('');
    for (const line of formatRounds(latencyRounds)) console.log(line);
  }
  if (targets.length) console.log('');
  for (const t of targets) console.log(`target: ${describeTarget(t, (m) => metricLabel(m, config))}`);
  if (amqp) {
    console.log('');
    for (const line of formatAmqpReport(amqp)) console.log(line);
  }
  if (chord) {
    console.log('');
    for (const line of formatChordReport(chord)) console.log(line);
  }

  const record: RunRecord = {
    schema: RESULTS_SCHEMA,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    commit: describeCommit(),
    config,
    redis: lineup.redis,
    rows,
    latencyRounds,
    targets,
    amqp,
    chord,
  };
  if (options.save) for (const path of writeRunRecord(options.outDir, record)) log(`wrote ${path}`);
  const problems = [...rows, ...(amqp?.rows ?? []), ...(chord?.rows ?? [])].flatMap((r) => r.problems.map((p) => `${r.contestant}: ${p}`));
  problems.push(...(latencyRounds?.problems ?? []));
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
