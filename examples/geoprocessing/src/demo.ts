/**
 * The geoprocessing workshop on celeriac's embedded default, with no server:
 *
 * 1. a fresh run directory holds the SQLite broker + results file and the squares file;
 * 2. a worker process starts through the CLI: `celeriac worker -A src/app.ts -c 50`;
 * 3. this process sends `do_task(x, y)` for N distinct random grid cells and waits for every result;
 * 4. a summary (succeeded, retried, failed, tasks/s, elapsed) is printed as a table and as one
 *    JSON line, the squares are counted (rows must equal successes), and the worker is stopped
 *    with SIGTERM (it must exit 0).
 *
 * Exits 0 when everything adds up. `--tasks N` for a quick run; see demo-options.ts for the rest.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { READY_STATES, type AsyncResult, type ResultMeta } from '@celeriac/core';
import { parseDemoOptions, USAGE } from './demo-options.js';
import { SquareStore } from './square-store.js';
import { formatSummary, isConsistent, summarize } from './summary.js';
import { startWorker, type WorkerProcess } from './worker-process.js';

/** examples/geoprocessing/, whether this runs as dist/demo.js or src/demo.ts. */
const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));
/** The worker loads the TypeScript source directly: no build step for app modules. */
const APP_MODULE = join(EXAMPLE_DIR, 'src', 'app.ts');
const SEND_CHUNK = 250;

async function main(): Promise<number> {
  const options = parseDemoOptions(process.argv.slice(2), join(EXAMPLE_DIR, '.demo'));
  mkdirSync(options.dir, { recursive: true });
  const runDir = mkdtempSync(join(resolve(options.dir), 'run-'));
  const storePath = join(runDir, 'squares.db');
  // app.ts reads these when it is imported (new App() takes CELERIAC_BROKER_URL), hence the
  // dynamic import below; the worker process inherits them.
  process.env['CELERIAC_BROKER_URL'] = `sqlite:///${join(runDir, 'celeriac.db')}`;
  process.env['GEOPROCESSING_STORE'] = storePath;
  process.env['GEOPROCESSING_FAILURE_RATE'] = String(options.failureRate);
  const { app, doTask } = await import('./app.js');

  log(`run directory ${runDir}`);
  log(`starting: celeriac worker -A ${APP_MODULE} -c ${options.concurrency}`);
  const worker = startWorker(APP_MODULE, ['-c', String(options.concurrency), '-l', 'info', '--progress-interval', '2'], process.env);
  const cleanUp = async () => {
    await worker.stop();
    await app.close();
    if (!options.keep) rmSync(runDir, { recursive: true, force: true });
  };
  // Interrupted (Ctrl-C, or a test giving up): never leave the worker process behind.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the worker`);
    void cleanUp().finally(() => process.exit(1));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await worker.ready;
    const cells = randomCells(options.tasks);
    const started = performance.now();
    const results: AsyncResult[] = [];
    for (let i = 0; i < cells.length; i += SEND_CHUNK) {
      results.push(...(await Promise.all(cells.slice(i, i + SEND_CHUNK).map(([x, y]) => doTask.delay(x, y)))));
    }
    log(`sent ${results.length} tasks in ${((performance.now() - started) / 1000).toFixed(2)} s; waiting for results`);
    const metas = await waitForAll(results, worker, started);
    const elapsed = performance.now() - started;

    const workerExitCode = await worker.stop();
    const store = new SquareStore(storePath);
    const rows = store.count();
    store.close();

    const summary = summarize(metas, rows, elapsed, workerExitCode);
    for (const line of formatSummary(summary)) out(line);
    out(JSON.stringify(summary));
    if (options.keep) log(`kept ${runDir}`);
    if (!isConsistent(summary)) {
      log('the run does not add up: see the summary above');
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await cleanUp();
  }
}

/** `n` distinct integer cells, so every successful task stores its own row. */
function randomCells(n: number): [number, number][] {
  const side = Math.max(1000, Math.ceil(Math.sqrt(n * 4)));
  const seen = new Set<number>();
  const cells: [number, number][] = [];
  while (cells.length < n) {
    const x = Math.floor(Math.random() * side);
    const y = Math.floor(Math.random() * side);
    if (seen.has(x * side + y)) continue;
    seen.add(x * side + y);
    cells.push([x, y]);
  }
  return cells;
}

/**
 * Polls the results until all are ready (SUCCESS or FAILURE), logging progress about once a
 * second. `AsyncResult.meta()` returns the extended metadata, whose `retries` the summary counts.
 */
async function waitForAll(results: readonly AsyncResult[], worker: WorkerProcess, started: number): Promise<ResultMeta[]> {
  const done = new Map<string, ResultMeta>();
  let pending = [...results];
  let lastLog = 0;
  while (pending.length) {
    const metas = await Promise.all(pending.map((r) => r.meta()));
    pending = pending.filter((r, i) => {
      const meta = metas[i]!;
      if (!READY_STATES.has(meta.status)) return true;
      done.set(r.id, meta);
      return false;
    });
    const now = performance.now();
    if (now - lastLog >= 1000 || !pending.length) {
      lastLog = now;
      const failed = [...done.values()].filter((m) => m.status !== 'SUCCESS').length;
      const rate = (done.size * 1000) / Math.max(1, now - started);
      log(`progress: ${done.size}/${results.length} done (${done.size - failed} succeeded, ${failed} failed), ${rate.toFixed(1)} tasks/s`);
    }
    if (!pending.length) break;
    if (!worker.isRunning()) throw new Error(`the worker exited with ${pending.length} tasks still pending`);
    await sleep(200);
  }
  return results.map((r) => done.get(r.id)!);
}

function log(line: string): void {
  process.stderr.write(`demo: ${line}\n`);
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof Error && /must be|Unknown option|unexpected argument/i.test(err.message)) log(USAGE);
    process.exit(1);
  },
);
