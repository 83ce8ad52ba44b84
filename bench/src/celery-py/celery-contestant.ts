/**
 * Python Celery 5.2 on Redis as a contestant. Each scenario gets its own empty database
 * (redis-db.ts), a Celery worker in a child process
 *
 *   python3 -m celery -A celery_bench worker -P threads -c C --without-mingle --without-gossip
 *     --without-heartbeat -Q <idle queue> -n <node>
 *
 * and a Python driver (celery_driver.py) that runs the scenario, Celery's way, and prints its
 * figures as JSON: so the enqueue rate is Celery's own client's, not celeriac's. The worker is
 * stopped with SIGTERM (Celery's warm shutdown) afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BulkFigures, Contestant, EndToEndFigures, LatencyFigures, ScenarioConfig } from '../contestant.js';
import { redisDbUrl, withEmptyDb, type RedisTarget } from '../redis-db.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux on every common architecture. */
const CLOCK_TICKS_PER_S = 100;

export interface CeleryOptions {
  /** The Python with Celery 5.2 and redis-py installed. @default '/usr/bin/python3' */
  readonly python: string;
  /** Celery's version, for the row's traits. */
  readonly version: string;
}

/**
 * Python Celery at concurrency 1 runs between some 15 and 650 no-op tasks/s from run to run on the
 * 2-vCPU machine (its worker sometimes sleeps between messages): 20,000 could take twenty minutes,
 * so that scenario runs this many (the table shows it; rates compare).
 */
const MAX_TASKS_AT_LOW_CONCURRENCY = 1_000;

/** Celery processes still alive, killed if this process exits early (an error, Ctrl-C). */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Runs one driver scenario (celery_driver.py `driverArgs`) on `target`, claimed empty, against a
 * fresh worker at `config.concurrency`: the driver's JSON, and the worker's CPU time while the
 * driver ran (enqueue included).
 */
export async function runCeleryScene(
  target: RedisTarget,
  options: CeleryOptions,
  config: Pick<ScenarioConfig, 'concurrency'>,
  driverArgs: readonly string[],
): Promise<{ out: unknown; workerCpuMs: number | null }> {
  return withEmptyDb(target, async () => {
    const queue = `bench-${process.pid}-${Date.now()}`;
    const node = `${queue}@bench`;
    const env = { ...process.env, CELERY_BENCH_URL: redisDbUrl(target), CELERY_BENCH_QUEUE: queue, PYTHONPATH: HERE };
    const workerArgs = ['-m', 'celery', '-A', 'celery_bench', 'worker', '-P', 'threads', '-c', String(config.concurrency)];
    workerArgs.push('--without-mingle', '--without-gossip', '--without-heartbeat', '-Q', `${queue}.idle`, '-n', node, '--loglevel', 'WARNING');
    const worker = start(options.python, workerArgs, env);
    try {
      const driver = start(options.python, [`${HERE}celery_driver.py`, ...driverArgs, '--node', node], env);
      // The driver waits for the worker to answer a ping first: its start-up is mostly counted.
      const cpuBefore = procCpuMs(worker.child.pid);
      const exit = await driver.exited;
      if (exit !== 0) throw new Error(`celery_driver.py ${driverArgs.join(' ')} exited with ${exit}\n${driver.stderr()}\nworker:\n${worker.stderr()}`);
      const cpuAfter = procCpuMs(worker.child.pid);
      const workerCpuMs = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
      return { out: JSON.parse(driver.stdout()) as unknown, workerCpuMs };
    } finally {
      await stop(worker);
    }
  });
}

export function celeryContestant(target: RedisTarget, options: CeleryOptions): Contestant {
  const scene = (config: ScenarioConfig, driverArgs: readonly string[]) => runCeleryScene(target, options, config, driverArgs);

  return {
    name: 'celery-py-redis',
    maxTasksAtLowConcurrency: MAX_TASKS_AT_LOW_CONCURRENCY,
    traits: {
      store: `Python Celery ${options.version} on Redis (db ${target.db}), broker + result backend`,
      resultsStored: 'yes (celery-task-meta-<id>, ignore_result False)',
      durability: target.durability,
      acks: 'early (Celery default; prefetch multiplier 4)',
      worker: 'separate process (-P threads)',
    },
    bulk: async (config) => figures<BulkFigures>(await scene(config, ['bulk', '--tasks', String(config.tasks)]), ['tasks', 'enqueueMs', 'queued', 'processMs', 'verified', 'workerSucceeded']),
    endToEnd: async (config) => figures<EndToEndFigures>(await scene(config, ['e2e', '--tasks', String(config.tasks)]), ['tasks', 'ms', 'verified', 'workerSucceeded']),
    latency: async (config) => {
      const { out } = await scene(config, ['latency', '--runs', String(config.latencyRuns), '--warmup', String(config.warmup), '--settle', String(config.settle)]);
      const { newSamplesMs, samplesMs, workerSucceeded } = out as { newSamplesMs?: unknown; samplesMs?: unknown; workerSucceeded?: unknown };
      const numbers = (list: unknown): list is number[] => Array.isArray(list) && list.every((s) => typeof s === 'number');
      if (!numbers(newSamplesMs) || !numbers(samplesMs) || typeof workerSucceeded !== 'number') throw new Error(`celery_driver.py latency printed ${JSON.stringify(out)}`);
      return { newSamplesMs, samplesMs, workerSucceeded } satisfies LatencyFigures;
    },
  };
}

/** The driver's JSON, checked to have every field as a number, with the worker's CPU time. */
export function figures<T>({ out, workerCpuMs }: { out: unknown; workerCpuMs: number | null }, fields: readonly string[]): T {
  const record = out as Record<string, unknown>;
  const missing = fields.filter((f) => typeof record?.[f] !== 'number');
  if (missing.length) throw new Error(`celery_driver.py printed ${JSON.stringify(out)}: no number for ${missing.join(', ')}`);
  return { ...record, workerCpuMs } as T;
}

/** User + system CPU time of process `pid` (all its threads) from /proc; null elsewhere. */
function procCpuMs(pid: number | undefined): number | null {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** A Python process with its output collected (shown only when something fails). */
function start(python: string, args: readonly string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(python, args, { cwd: HERE, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (e) => {
      err += String(e);
      resolve(-1);
    });
    child.once('close', (code) => resolve(code));
  });
  void exited.then(() => children.delete(child));
  return { child, exited, stdout: () => out, stderr: () => err };
}

/** Celery's warm shutdown (SIGTERM: finish the tasks in hand), then SIGKILL after 30 s. */
async function stop(worker: Started): Promise<void> {
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 30_000);
  await worker.exited;
  clearTimeout(timer);
}
