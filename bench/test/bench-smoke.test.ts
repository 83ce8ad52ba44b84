/**
 * Runs the bench with tiny numbers and checks the JSON record: every field is there and every
 * count matches what was sent. No timing is asserted. First the celeriac rows (real worker
 * process, real SQLite file), then the Redis rows (celeriac, BullMQ, bee-queue, Python Celery) on
 * databases 2–5 of the local Redis, apart from the 10–14 a full `npm run bench` uses and the 6–9 of
 * the Redis tests' own-db fixtures, and the raw ioredis floor row on database 2 again (after
 * celeriac-redis is done with it: rows run one at a time, each claiming its database empty, so the
 * test needs no sixth database); then the chord group (celeriac and Python Celery, one small
 * chord each, on the same databases); then the AMQP rows (celeriac, the raw amqplib loop, Python
 * Celery) in vhosts of their own. The Redis, chord and AMQP runs are skipped when their server or
 * Python Celery is missing, except under CI, where that fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { celeryVersion } from '../src/contestants.js';
import { parseOptions } from '../src/options.js';
import { probeRedis } from '../src/redis-db.js';
import { probeAmqp } from '../src/amqp/amqp-server.js';
import type { RunRecord } from '../src/results-file.js';
import type { RowResult } from '../src/runner.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: readonly string[], env: NodeJS.ProcessEnv, giveUpMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // Only so that a broken run fails instead of hanging.
    const giveUp = setTimeout(() => child.kill('SIGTERM'), giveUpMs);
    child.on('close', (code) => {
      clearTimeout(giveUp);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every count of `row` equals what was sent; the latency summary is ordered. */
function assertCounts(row: RowResult, config: RunRecord['config'], lowTasks = config.tasks): void {
  assert.deepEqual(row.problems, [], row.contestant);
  assert.equal(row.concurrency, config.concurrency);
  for (const key of ['store', 'resultsStored', 'durability', 'acks', 'worker'] as const) assert.ok(row.traits[key], `${row.contestant} traits.${key}`);
  assert.equal(row.enqueue.tasks, config.tasks);
  assert.equal(row.enqueue.queued, config.tasks);
  for (const phase of [row.process, row.endToEnd]) {
    assert.equal(phase.tasks, config.tasks, row.contestant);
    assert.equal(phase.verified, config.tasks, row.contestant);
    assert.equal(phase.workerSucceeded, config.tasks, row.contestant);
  }
  assert.equal(row.processLow.concurrency, config.lowConcurrency);
  for (const count of [row.processLow.tasks, row.processLow.queued, row.processLow.verified, row.processLow.workerSucceeded]) assert.equal(count, lowTasks, row.contestant);
  for (const phase of [row.enqueue, row.processLow, row.process, row.endToEnd]) assert.ok(phase.ms > 0 && phase.perSecond > 0, row.contestant);
  assert.equal(row.latency.runs, config.latencyRuns);
  assert.equal(row.latency.newWorker.runs, config.latencyRuns);
  assert.equal(row.latency.warmup, config.warmup);
  assert.equal(row.latency.settle, config.settle);
  for (const window of [row.latency, row.latency.newWorker]) {
    const { minMs, p50Ms, p90Ms, p99Ms, maxMs } = window;
    assert.ok(minMs > 0 && minMs <= p50Ms && p50Ms <= p90Ms && p90Ms <= p99Ms && p99Ms <= maxMs, JSON.stringify(row.latency));
  }
}

/**
 * True when the rows can run: the server answers (`serverError` is null) and Python imports
 * Celery and `module`. Otherwise the test is skipped with the reasons, or fails under CI.
 */
function prerequisites(t: TestContext, what: string, serverError: string | null, module: 'redis' | 'amqp'): boolean {
  const celery = celeryVersion(parseOptions([]).python, module);
  const missing = [...(serverError === null ? [] : [serverError]), ...('error' in celery ? [celery.error] : [])];
  if (missing.length === 0) return true;
  if (process.env['CI']) assert.fail(`the ${what} cannot run under CI: ${missing.join('; ')}`);
  t.skip(`${what} not run: ${missing.join('; ')}`);
  return false;
}

it('a small run of the celeriac rows: counts add up, the record has every field, temp files are gone', async () => {
  const out = join(dir, 'results');
  // The SQLite files go under a private TMPDIR, so the test can see that they were removed.
  const temp = join(dir, 'tmp');
  mkdirSync(temp);
  const only = ['--only', 'celeriac-sqlite,celeriac-memory'];
  const run = await runBench([...only, '--tasks', '300', '--latency', '20', '--warmup', '5', '--settle', '7', '--concurrency', '10', '--batch', '100', '--out', out], {
    ...process.env,
    TMPDIR: temp,
  });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);

  const files = readdirSync(out).sort();
  assert.equal(files.length, 2, `expected a stamped file and latest.json, got ${files.join(', ')}`);
  assert.match(files[0]!, /^bench-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/);
  assert.equal(files[1], 'latest.json');
  const record = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as RunRecord;
  assert.deepEqual(readFileSync(join(out, files[0]!), 'utf8'), readFileSync(join(out, 'latest.json'), 'utf8'));

  assert.equal(record.schema, 6);
  assert.equal(record.amqp, null, "the AMQP rows run only when asked for or with no --only");
  assert.equal(record.chord, null, 'the chord rows run only when asked for or with no --only');
  assert.ok(Date.parse(record.startedAt) <= Date.parse(record.finishedAt));
  assert.ok(record.machine.cpus > 0 && record.machine.node.startsWith('v') && record.machine.loadAverage >= 0);
  assert.deepEqual(record.config, { tasks: 300, latencyRuns: 20, warmup: 5, settle: 7, latencyRounds: 9, concurrency: 10, lowConcurrency: 1, batch: 100, chordTasks: 10_000 });
  assert.equal(record.latencyRounds, null, 'no rounds without the rows they compare');
  assert.deepEqual(record.rows.map((r) => r.contestant), ['celeriac-sqlite', 'celeriac-memory']);
  for (const row of record.rows) assertCounts(row, record.config);
  assert.deepEqual(record.targets.map((t) => [t.contestant, t.metric, t.against]), [['celeriac-sqlite', 'endToEnd', null]]);

  assert.match(run.stdout, /^\| celeriac-sqlite\s+\|\s+[\d,]+ \|/m, 'the figures table is printed');
  assert.match(run.stdout, /^\| celeriac-memory \/ celeriac-sqlite\s+\|\s+[\d.]+× \|/m, 'the ratios table is printed');
  assert.match(run.stdout, /^Latency windows, .*"new worker" = round trips 6–25 .*p50 and p99 = round trips 33–52 of the same worker/m, 'the windows are named');
  // (tsx keeps its compile cache there too.)
  assert.deepEqual(readdirSync(temp).filter((name) => name.startsWith('celeriac-bench-')), [], 'every temp database is removed');
});

it('a small run of the Redis rows: every count adds up for celeriac, BullMQ, bee-queue, Python Celery and the raw floor', async (t) => {
  const options = parseOptions([]);
  const redis = await probeRedis(options.redis);
  if (!prerequisites(t, 'Redis rows', 'error' in redis ? redis.error : null, 'redis')) return;
  const out = join(dir, 'redis-results');
  const rows = ['celeriac-redis', 'bullmq-redis', 'bee-queue-redis', 'celery-py-redis', 'raw-ioredis-redis'];
  const args = ['--only', rows.join(','), '--redis-db', '2', '--redis-floor-db', '2', '--tasks', '50', '--latency', '10', '--warmup', '2', '--settle', '3', '--latency-rounds', '2', '--concurrency', '10', '--batch', '20', '--out', out];
  // About 40 s here, most of it starting Python Celery workers (one per scenario).
  const run = await runBench(args, process.env, 170_000);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const record = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as RunRecord;
  assert.ok(record.redis && record.redis.version, 'the record names the Redis server');
  assert.deepEqual(record.rows.map((r) => r.contestant), rows);
  for (const row of record.rows) assertCounts(row, record.config);
  assert.equal(record.targets.filter((t) => t.contestant === 'celeriac-redis').length, 8);
  assert.match(run.stdout, /^\| celeriac-redis \/ bullmq-redis\s+\|/m);
  assert.match(run.stdout, /^target: celeriac-redis latency p50 <= 1× bee-queue-redis: (met|NOT met)/m);
  // The floor row: its traits name its database, its ratios and latency lines are printed, none is a target.
  assert.match(record.rows.find((r) => r.contestant === 'raw-ioredis-redis')!.traits.store, /^Redis \(db 2\)/);
  assert.match(run.stdout, /^\| celeriac-redis \/ raw-ioredis-redis\s+\|\s+[\d.]+× \|/m);
  assert.match(run.stdout, /^\| bee-queue-redis \/ raw-ioredis-redis\s+\|/m);
  assert.match(run.stdout, /^floor \(not a target\): celeriac-redis latency p50 [\d.]+× raw-ioredis-redis/m);
  assert.match(run.stdout, /^floor \(not a target\): latency p50 celeriac-redis − bee-queue-redis [+−][\d.]+ ms = /m);
  assert.ok(!record.targets.some((t) => t.contestant === 'raw-ioredis-redis' || t.against === 'raw-ioredis-redis'), 'the floor is not a target');

  // The latency rounds: two, the rows' order reversed in the second, every row's windows counted.
  const rounds = record.latencyRounds!;
  assert.ok(rounds, 'the rounds ran');
  const compared = ['celeriac-redis', 'bee-queue-redis', 'raw-ioredis-redis'];
  assert.deepEqual(rounds.rows, compared);
  assert.deepEqual(rounds.rounds.map((r) => r.order), [compared, [...compared].reverse()]);
  assert.deepEqual(rounds.problems, []);
  for (const r of rounds.rounds) for (const name of compared) assert.ok(r.figures[name]!.p50Ms > 0 && r.figures[name]!.p50NewMs > 0, `${name}: figures`);
  const pair = rounds.ratios.find((q) => q.subject === 'celeriac-redis' && q.peer === 'bee-queue-redis')!;
  const own = rounds.rounds.map((r) => r.figures['celeriac-redis']!.p50Ms / r.figures['bee-queue-redis']!.p50Ms);
  pair.p50.forEach((v, i) => assert.ok(Math.abs(v - own[i]!) < 0.001, `round ${i + 1}'s ratio is its own figures' ratio`));
  const target = record.targets.find((t) => t.metric === 'p50')!;
  assert.equal(target.basis, 'rounds');
  assert.equal(target.rounds, 2);
  assert.equal(target.value, pair.p50Median, "the p50 target is the rounds' median ratio");
  assert.match(run.stdout, /^target: celeriac-redis latency p50 <= 1× bee-queue-redis: (met|NOT met) \([\d.]+×, median of 2 rounds\)/m);
  assert.match(run.stdout, /^Latency in rounds: /m);
  // The rounds' own ratio table: its header names the rounds and the median.
  const roundsText = run.stdout.slice(run.stdout.indexOf('Latency in rounds: '));
  assert.match(roundsText, /^\| ratio \(time\)\s+\| round 1 \| round 2 \| median \| median, new worker \|$/m, 'the ratios of the rounds are printed');
  assert.match(roundsText, /^\| celeriac-redis \/ bee-queue-redis\s+\|\s+[\d.]+× \|\s+[\d.]+× \|\s+[\d.]+× \|\s+[\d.]+× \|$/m);
  // The other targets stay on the main run's figures.
  assert.ok(record.targets.filter((t) => t.metric !== 'p50').every((t) => t.basis === 'run'));
});

it('a small run of the chord group: both chords complete, every count adds up, the table and the target are there', async (t) => {
  const redis = await probeRedis(parseOptions([]).redis);
  if (!prerequisites(t, 'chord rows', 'error' in redis ? redis.error : null, 'redis')) return;
  const out = join(dir, 'chord-results');
  const args = ['--only', 'chord:celeriac-redis,chord:celery-py-redis', '--redis-db', '2', '--chord-tasks', '40', '--concurrency', '10', '--out', out];
  const run = await runBench(args, process.env, 120_000);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const record = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as RunRecord;
  assert.deepEqual(record.rows, [], 'no scenario rows were asked for');
  assert.equal(record.amqp, null);
  assert.equal(record.config.chordTasks, 40);
  assert.ok(record.chord, 'the record has the chord group');
  assert.deepEqual(record.chord.rows.map((r) => r.contestant), ['celeriac-redis', 'celery-py-redis']);
  for (const row of record.chord.rows) {
    assert.deepEqual(row.problems, [], row.contestant);
    assert.equal(row.tasks, 40, row.contestant);
    assert.equal(row.headerVerified, 40, `${row.contestant}: every header result stored`);
    assert.equal(row.bodySucceeded, true, `${row.contestant}: the body's result stored`);
    assert.equal(row.workerSucceeded, 42, `${row.contestant}: the round trip, the header and the body ran`);
    assert.equal(row.concurrency, 10);
    assert.ok(row.appliedMs > 0 && row.bodyStoredMs !== null && row.bodyStoredMs > 0 && row.ms > 0 && row.perSecond > 0, row.contestant);
    for (const key of ['store', 'resultsStored', 'durability', 'acks', 'worker'] as const) assert.ok(row.traits[key], `${row.contestant} traits.${key}`);
  }
  assert.deepEqual(record.chord.targets.map((x) => [x.contestant, x.against, x.bound]), [['celeriac-redis', 'celery-py-redis', 5]]);
  assert.match(run.stdout, /^\| celeriac-redis \| 40 \|/m, 'the chord table is printed');
  assert.match(run.stdout, /^target: celeriac-redis chord >= 5× celery-py-redis: (met|NOT met)/m);
});

it('a small run of the AMQP rows: counts add up, the table and both targets are there', async (t) => {
  const rabbit = await probeAmqp(parseOptions([]).amqp);
  if (!prerequisites(t, 'AMQP rows', 'error' in rabbit ? rabbit.error : null, 'amqp')) return;
  const out = join(dir, 'amqp-results');
  const rows = ['celeriac-amqp', 'raw-amqplib', 'celery-py-amqp'];
  // 250: the Python driver reads its replies every 100 sends (celery_amqp_driver.py), twice here.
  const run = await runBench(['--only', rows.join(','), '--tasks', '250', '--concurrency', '10', '--batch', '50', '--out', out], process.env, 170_000);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const record = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as RunRecord;
  assert.deepEqual(record.rows, [], 'no Redis or SQLite rows were asked for');
  assert.ok(record.amqp?.server, 'the record names the RabbitMQ version');
  assert.deepEqual(record.amqp.rows.map((r) => r.contestant), rows);
  for (const row of record.amqp.rows) {
    assert.equal(row.tasks, 250);
    assert.equal(row.verified, 250, `${row.contestant}: every result came back`);
    assert.ok(row.workerSucceeded >= 250, `${row.contestant}: the worker ran every task`);
    assert.ok(row.perSecond > 0);
    assert.deepEqual(row.problems, []);
  }
  assert.deepEqual(record.amqp.targets.map((x) => [x.against, x.bound]), [['celery-py-amqp', 5], ['raw-amqplib', 0.5]]);
  assert.match(run.stdout, /^target: celeriac-amqp end to end >= 0\.5× raw-amqplib: (met|NOT met)/m);
});

it('a bad flag is refused before anything runs', async () => {
  const run = await runBench(['--tasks', 'many', '--no-save'], process.env);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /--tasks \(BENCH_TASKS\) must be an integer >= 1, got "many"/);
});
