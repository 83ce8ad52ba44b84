/**
 * Command-line flags of `npm run bench`, each with an environment variable for when npm sits in
 * between (`BENCH_TASKS=2000 npm run bench`); a flag wins over its variable. Checked eagerly.
 */
import { fileURLToPath } from 'node:url';
import type { ScenarioConfig } from './contestant.js';

export interface BenchOptions {
  readonly config: ScenarioConfig;
  /** Contestant names to run, in order. @default every contestant */
  readonly only: readonly string[] | null;
  /** Where the JSON record goes. @default bench/results */
  readonly outDir: string;
  /** Write the JSON record. @default true */
  readonly save: boolean;
  /** Directory for V8 CPU profiles of the SQLite worker processes. @default none */
  readonly cpuProfileDir: string | null;
  readonly help: boolean;
}

export const USAGE = `usage: npm run start --workspace bench -- [options]   (or BENCH_* variables with npm run bench)

  --tasks N          tasks in the bulk and end-to-end scenarios (BENCH_TASKS, default 20000)
  --latency N        sequential round trips timed for latency (BENCH_LATENCY, default 1000)
  --warmup N         untimed round trips before those (BENCH_WARMUP, default 50)
  --concurrency N    tasks one worker runs at once (BENCH_CONCURRENCY, default 100)
  --batch N          tasks per bulk send (BENCH_BATCH, default 1000)
  --only a,b         contestants to run, e.g. celeriac-sqlite (BENCH_ONLY, default all)
  --out DIR          where the JSON record is written (BENCH_OUT, default bench/results)
  --no-save          print only, write no JSON
  --cpu-prof DIR     write a CPU profile of each SQLite worker process to DIR (BENCH_CPU_PROF)`;

const DEFAULT_OUT = fileURLToPath(new URL('../results', import.meta.url));

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const flags = new Map<string, string>();
  let save = true;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--no-save') save = false;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg.startsWith('--') && ['tasks', 'latency', 'warmup', 'concurrency', 'batch', 'only', 'out', 'cpu-prof'].includes(arg.slice(2))) {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      flags.set(arg.slice(2), value);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  const pick = (flag: string, variable: string) => flags.get(flag) ?? env[variable];
  const int = (flag: string, variable: string, fallback: number, min: number) => {
    const text = pick(flag, variable);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} (${variable}) must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  const only = pick('only', 'BENCH_ONLY');
  return {
    config: {
      tasks: int('tasks', 'BENCH_TASKS', 20_000, 1),
      latencyRuns: int('latency', 'BENCH_LATENCY', 1_000, 1),
      warmup: int('warmup', 'BENCH_WARMUP', 50, 0),
      concurrency: int('concurrency', 'BENCH_CONCURRENCY', 100, 1),
      batch: int('batch', 'BENCH_BATCH', 1_000, 1),
    },
    only: only ? only.split(',').map((s) => s.trim()).filter(Boolean) : null,
    outDir: pick('out', 'BENCH_OUT') ?? DEFAULT_OUT,
    save,
    cpuProfileDir: pick('cpu-prof', 'BENCH_CPU_PROF') ?? null,
    help,
  };
}
