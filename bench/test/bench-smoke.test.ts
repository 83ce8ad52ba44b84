/**
 * Runs the whole bench with tiny numbers (real worker process, real SQLite file) and checks the
 * JSON record: every field is there and every count matches what was sent. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../src/results-file.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // Only so that a broken run fails instead of hanging.
    const giveUp = setTimeout(() => child.kill('SIGTERM'), 120_000);
    child.on('close', (code) => {
      clearTimeout(giveUp);
      resolve({ code, stdout, stderr });
    });
  });
}

it('a small run of every contestant: counts add up, the record has every field, temp files are gone', async () => {
  const out = join(dir, 'results');
  // The SQLite files go under a private TMPDIR, so the test can see that they were removed.
  const temp = join(dir, 'tmp');
  mkdirSync(temp);
  const run = await runBench(['--tasks', '300', '--latency', '20', '--warmup', '5', '--concurrency', '10', '--batch', '100', '--out', out], {
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

  assert.equal(record.schema, 1);
  assert.ok(Date.parse(record.startedAt) <= Date.parse(record.finishedAt));
  assert.ok(record.machine.cpus > 0 && record.machine.node.startsWith('v') && record.machine.loadAverage >= 0);
  assert.deepEqual(record.config, { tasks: 300, latencyRuns: 20, warmup: 5, concurrency: 10, batch: 100 });
  assert.deepEqual(record.rows.map((r) => r.contestant), ['celeriac-sqlite', 'celeriac-memory']);
  for (const row of record.rows) {
    assert.deepEqual(row.problems, [], row.contestant);
    assert.equal(row.concurrency, 10);
    for (const key of ['store', 'resultsStored', 'durability', 'acks', 'worker'] as const) assert.ok(row.traits[key], `${row.contestant} traits.${key}`);
    assert.equal(row.enqueue.tasks, 300);
    assert.equal(row.enqueue.queued, 300);
    for (const phase of [row.process, row.endToEnd]) {
      assert.equal(phase.tasks, 300);
      assert.equal(phase.verified, 300);
      assert.equal(phase.workerSucceeded, 300);
    }
    for (const phase of [row.enqueue, row.process, row.endToEnd]) assert.ok(phase.ms > 0 && phase.perSecond > 0);
    assert.equal(row.latency.runs, 20);
    assert.equal(row.latency.warmup, 5);
    const { minMs, p50Ms, p90Ms, p99Ms, maxMs } = row.latency;
    assert.ok(minMs <= p50Ms && p50Ms <= p90Ms && p90Ms <= p99Ms && p99Ms <= maxMs, JSON.stringify(row.latency));
  }
  assert.equal(record.targets.length, 1);
  assert.equal(record.targets[0]!.contestant, 'celeriac-sqlite');

  assert.match(run.stdout, /^\| celeriac-sqlite\s+\|\s+[\d,]+ \|/m, 'the figures table is printed');
  assert.match(run.stdout, /celeriac-memory vs celeriac-sqlite: /);
  // (tsx keeps its compile cache there too.)
  assert.deepEqual(readdirSync(temp).filter((name) => name.startsWith('celeriac-bench-')), [], 'every temp database is removed');
});

it('a bad flag is refused before anything runs', async () => {
  const run = await runBench(['--tasks', 'many', '--no-save'], process.env);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /--tasks \(BENCH_TASKS\) must be an integer >= 1, got "many"/);
});
