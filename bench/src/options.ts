/**
 * Command-line flags of `npm run bench`, each with an environment variable for when npm sits in
 * between (`BENCH_TASKS=2000 npm run bench`); a flag wins over its variable. Checked eagerly.
 */
import { fileURLToPath } from 'node:url';
import type { ScenarioConfig } from './contestant.js';
import { parseRedisServer, type RedisServer } from './redis-db.js';

export interface BenchOptions {
  readonly config: ScenarioConfig;
  /** Contestant names to run, in order. @default every contestant that can run here */
  readonly only: readonly string[] | null;
  /** Where the JSON record goes. @default bench/results */
  readonly outDir: string;
  /** Write the JSON record. @default true */
  readonly save: boolean;
  /** Directory for V8 CPU profiles of the Node worker processes (celeriac, BullMQ, bee-queue). @default none */
  readonly cpuProfileDir: string | null;
  /** The Redis server of the Redis rows. @default redis://127.0.0.1:6379 */
  readonly redis: RedisServer;
  /** First of the four databases of celeriac-redis, bullmq-redis, bee-queue-redis and celery-py-redis, one each. @default 10 */
  readonly redisDb: number;
  /**
   * The database of the raw-ioredis-redis floor row, a fifth one. Left out when it holds keys (named
   * in --only, the run stops with that reason instead): 14 is also the scratch database of people working on this machine. It may be one
   * of the four above: rows run one after another, each claiming its database empty. @default 14
   */
  readonly redisFloorDb: number;
  /** Python with Celery 5.2 and redis-py, for the Python Celery row. @default /usr/bin/python3 */
  readonly python: string;
  /** The RabbitMQ server of the AMQP rows (each makes a vhost of its own). @default amqp://guest:guest@127.0.0.1:5672 */
  readonly amqp: string;
  readonly help: boolean;
}

export const USAGE = `usage: npm run start --workspace bench -- [options]   (or BENCH_* variables with npm run bench)

  --tasks N            tasks in the bulk and end-to-end scenarios (BENCH_TASKS, default 20000)
  --latency N          sequential round trips timed for latency in each of two windows, a new
                       worker's and the same worker's once warmed (BENCH_LATENCY, default 1000)
  --warmup N           untimed round trips before the first window (BENCH_WARMUP, default 50)
  --settle N           untimed round trips between the two windows (BENCH_SETTLE, default 3000)
  --latency-rounds N   after all rows, celeriac-redis, bee-queue-redis and the floor run the latency
                       scenario again N times in alternating order; the p50 target is judged on the
                       median of the rounds' ratios (BENCH_LATENCY_ROUNDS, default 9; 0: none)
  --concurrency N      tasks one worker runs at once (BENCH_CONCURRENCY, default 100)
  --low-concurrency N  the bulk processing is measured at this concurrency too (BENCH_LOW_CONCURRENCY, default 1)
  --batch N            tasks per bulk send (BENCH_BATCH, default 1000)
  --chord-tasks N      header tasks of the chord group's chord (BENCH_CHORD_TASKS, default 10000)
  --only a,b           contestants to run, e.g. celeriac-redis,bullmq-redis (BENCH_ONLY, default all that can run)
  --out DIR            where the JSON record is written (BENCH_OUT, default bench/results)
  --no-save            print only, write no JSON
  --cpu-prof DIR       write a CPU profile of each Node worker process to DIR (BENCH_CPU_PROF)
  --redis URL          Redis server of the Redis rows (BENCH_REDIS_URL, default redis://127.0.0.1:6379)
  --redis-db N         first of 4 empty databases they use, one per row (BENCH_REDIS_DB, default 10:
                       celeriac-redis 10, bullmq-redis 11, bee-queue-redis 12, celery-py-redis 13)
  --redis-floor-db N   the empty database of the raw-ioredis-redis floor row (BENCH_REDIS_FLOOR_DB,
                       default 14, also people's scratch db: the row is left out when it holds keys, and
                       the run stops if --only names it; may be one of the four, rows run one at a time)
  --python PATH        Python with Celery 5.2 and redis-py (BENCH_PYTHON, default /usr/bin/python3)
  --amqp URL           RabbitMQ of the AMQP rows, no vhost: each row makes its own with rabbitmqctl
                       (BENCH_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672)

contestants: celeriac-sqlite, celeriac-memory, celeriac-redis, bullmq-redis, bee-queue-redis, celery-py-redis,
             raw-ioredis-redis (the floor: celeriac's Redis commands on ioredis, no framework)
AMQP rows (end to end only): celeriac-amqp, raw-amqplib, celery-py-amqp
chord rows (one chord on Redis; printed as celeriac-redis, celery-py-redis): chord:celeriac-redis, chord:celery-py-redis`;

const DEFAULT_OUT = fileURLToPath(new URL('../results', import.meta.url));
const VALUE_FLAGS = ['tasks', 'latency', 'warmup', 'settle', 'latency-rounds', 'concurrency', 'low-concurrency', 'batch', 'chord-tasks', 'only', 'out', 'cpu-prof', 'redis', 'redis-db', 'redis-floor-db', 'python', 'amqp'];

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const flags = new Map<string, string>();
  let save = true;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--no-save') save = false;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg.startsWith('--') && VALUE_FLAGS.includes(arg.slice(2))) {
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
      settle: int('settle', 'BENCH_SETTLE', 3_000, 0),
      latencyRounds: int('latency-rounds', 'BENCH_LATENCY_ROUNDS', 9, 0),
      concurrency: int('concurrency', 'BENCH_CONCURRENCY', 100, 1),
      lowConcurrency: int('low-concurrency', 'BENCH_LOW_CONCURRENCY', 1, 1),
      batch: int('batch', 'BENCH_BATCH', 1_000, 1),
      chordTasks: int('chord-tasks', 'BENCH_CHORD_TASKS', 10_000, 1),
    },
    only: only ? only.split(',').map((s) => s.trim()).filter(Boolean) : null,
    outDir: pick('out', 'BENCH_OUT') ?? DEFAULT_OUT,
    save,
    cpuProfileDir: pick('cpu-prof', 'BENCH_CPU_PROF') ?? null,
    redis: parseRedisServer(pick('redis', 'BENCH_REDIS_URL') ?? 'redis://127.0.0.1:6379'),
    redisDb: int('redis-db', 'BENCH_REDIS_DB', 10, 0),
    redisFloorDb: int('redis-floor-db', 'BENCH_REDIS_FLOOR_DB', 14, 0),
    python: pick('python', 'BENCH_PYTHON') ?? '/usr/bin/python3',
    amqp: pick('amqp', 'BENCH_AMQP_URL') ?? 'amqp://guest:guest@127.0.0.1:5672',
    help,
  };
}
