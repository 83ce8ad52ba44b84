/**
 * Runs the whole demo (a real worker process through the CLI, SQLite files in a temp directory)
 * with a small N and a high failure rate, so retries and final failures both happen, and checks
 * that its JSON summary adds up.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DemoSummary } from '../src/summary.js';

const DEMO = fileURLToPath(new URL('../src/demo.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'celeriac-geo-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runDemo(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', DEMO, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // Only so that a broken run fails instead of hanging. SIGTERM lets the demo stop its worker.
    const giveUp = setTimeout(() => child.kill('SIGTERM'), 120_000);
    child.on('close', (code) => {
      clearTimeout(giveUp);
      resolve({ code, stdout, stderr });
    });
  });
}

it('the demo with 60 tasks: every task ends, each success stored one square, the worker exits 0', async () => {
  // At a 50% failure rate about half the tasks retry and about 1 in 16 fails for good.
  const run = await runDemo(['--tasks', '60', '--failure-rate', '0.5', '--concurrency', '10', '--dir', dir]);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no JSON summary line in:\n${run.stdout}`);
  const summary = JSON.parse(line) as DemoSummary;
  assert.equal(summary.tasks, 60);
  assert.equal(summary.succeeded + summary.failed, 60);
  assert.equal(summary.rows, summary.succeeded);
  assert.equal(summary.workerExitCode, 0);
  assert.ok(summary.retriedTasks > 0 && summary.retries >= summary.retriedTasks, 'some tasks were retried');
  // A task that failed for good used up its 3 retries.
  assert.ok(summary.retries >= 3 * summary.failed);
  assert.match(run.stdout, /^\| succeeded\s+\| \d+/m, 'the summary table is printed');
  assert.deepEqual(readdirSync(dir), [], 'the run directory is removed without --keep');
});

it('a bad flag is refused before anything starts', async () => {
  const run = await runDemo(['--tasks', 'many', '--dir', dir]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /--tasks must be a positive integer, got many/);
});
