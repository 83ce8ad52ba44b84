/**
 * Python Celery 5.2 on RabbitMQ: `celery worker -P prefork` (its fastest pool on RabbitMQ; as many
 * processes as CPUs, Celery's default) and celery_amqp_driver.py, which sends with
 * `apply_async()` and waits for every result on its rpc:// reply queue, timing both itself.
 * The worker's own success count is not read (prefork counts in its children): `workerSucceeded`
 * is the number of SUCCESS results the driver received.
 */
import { execFile, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EndToEndFigures, ScenarioConfig } from '../contestant.js';
import { withVhost, type AmqpServer } from './amqp-server.js';
import { AMQP_DURABILITY, type AmqpRow } from './amqp-row.js';

const run = promisify(execFile);
const DIR = fileURLToPath(new URL('../celery-py/', import.meta.url));
const QUEUE = 'bench';

export function celeryAmqpRow(server: AmqpServer, python: string, version: string): AmqpRow {
  return {
    name: 'celery-py-amqp',
    traits: {
      store: `RabbitMQ ${server.version} (Celery ${version}, py-amqp), results rpc://`,
      resultsStored: 'yes: rpc result message to the producer\'s reply queue',
      durability: `${AMQP_DURABILITY} (confirm_publish on; Celery has no bulk send: one apply_async per task, each waiting for its confirm)`,
      acks: 'early (Celery default)',
      worker: `separate process, -P prefork -c ${cpus().length}, prefetch multiplier 4`,
    },
    endToEnd: (config) => withVhost(server, 'celery', (url) => endToEnd(url, python, config)),
  };
}

async function endToEnd(url: string, python: string, config: ScenarioConfig): Promise<EndToEndFigures> {
  const env = { ...process.env, CELERY_AMQP_URL: url, CELERY_BENCH_QUEUE: QUEUE, PYTHONDONTWRITEBYTECODE: '1' };
  const args = ['-m', 'celery', '-A', 'celery_amqp_bench', 'worker', '-P', 'prefork', '-c', String(cpus().length), '-Q', QUEUE, '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'warning'];
  const worker = spawn(python, args, { cwd: DIR, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  try {
    const { stdout } = await run(python, ['celery_amqp_driver.py', 'e2e', '--tasks', String(config.tasks)], { cwd: DIR, env, timeout: 1_800_000, maxBuffer: 1 << 20 });
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { tasks?: number; ms?: number; verified?: number };
    if (typeof out.ms !== 'number' || typeof out.verified !== 'number') throw new Error(`celery_amqp_driver.py printed ${stdout}`);
    return { tasks: config.tasks, ms: out.ms, verified: out.verified, workerSucceeded: out.verified, workerCpuMs: null };
  } finally {
    if (worker.exitCode === null && worker.pid !== undefined) process.kill(worker.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    if (worker.exitCode === null && worker.pid !== undefined) process.kill(worker.pid, 'SIGKILL');
  }
}
