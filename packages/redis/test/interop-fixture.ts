/**
 * What the interop-*.test.ts files share, for running real Python Celery 5.2 (`/usr/bin/python3`,
 * Debian's python3-celery) and celeriac against the shared Redis:
 *
 * - `InteropScope`: a test's namespace — a key prefix for every broker key (celeriac's `key_prefix`
 *   = kombu's `global_keyprefix`, so both sides meet under it and the shared `unacked` hash is never
 *   touched), a queue (and queues named after it, `sideQueue()`), task and group ids whose
 *   `celery-task-meta-<id>` and `celery-taskset-meta-<gid>*` keys it remembers (Celery 5.2's result
 *   backend knows no prefix), and the processes it started. `cleanup()` stops those by PID, then
 *   deletes exactly its keys.
 * - Worker processes: a celeriac worker (this file run as a script, see `workerMain`) and a Celery
 *   worker (fixtures/py_interop_worker.py); both print `ready` once they consume.
 * - `pythonClient()`: fixtures/py_interop_client.py, one JSON document per output line.
 */
import { spawn, spawnSync, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, consoleLogger, Worker } from '@celeriac/core';
import { Redis } from 'ioredis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';
import { groupKeys, registerCanvasTasks } from './interop-canvas-checks.js';
import { stopChild, untilReady, type Started, type WorkerChoice } from './interop-processes.js';
export type { Started, WorkerChoice };

export { REDIS_URL };
export const PYTHON = process.env['CELERIAC_PYTHON'] ?? '/usr/bin/python3';
const SELF = fileURLToPath(import.meta.url);
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Generous bound for anything to happen (a worker starting, a result arriving). */
export const WAIT_MS = 60_000;

/** Why the interop tests cannot run here, or false. Under CI a missing dependency throws instead. */
export async function interopSkipReason(): Promise<string | false> {
  const redis = await redisSkipReason();
  if (redis) return redis;
  const probe = spawnSync(PYTHON, ['-c', 'import celery, redis; assert celery.VERSION[:2] == (5, 2), celery.__version__']);
  if (probe.status === 0) return false;
  const reason = `Python Celery 5.2 with redis-py is not available at ${PYTHON} (apt-get install -y python3-celery python3-redis python3-amqp)`;
  if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
  return reason;
}

export class InteropScope {
  readonly prefix: string;
  readonly queue: string;
  /** celeriac's broker URL: every broker key under the prefix. */
  readonly brokerUrl: string;
  /** Results: Celery's plain key names, readable by Python. */
  readonly backendUrl = REDIS_URL;
  readonly redis: Redis = rawClient();
  private readonly resultKeys = new Set<string>();
  private readonly started = new Set<Started>();

  constructor(readonly label: string) {
    this.prefix = uniquePrefix(`interop-${label}`);
    this.queue = `interop-${label}-${randomUUID()}`;
    this.brokerUrl = withPrefix(REDIS_URL, this.prefix);
  }

  /** A key of ours under the prefix (record lists, release flags). */
  key(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Another queue of the scope's (`<queue>.<side>`), e.g. one per worker; under the prefix like the first. */
  sideQueue(side: string): string {
    return `${this.queue}.${side}`;
  }

  /** A fresh task id (or one made elsewhere, e.g. by app.apply()); its result key is deleted at cleanup. */
  taskId(id: string = randomUUID()): string {
    this.resultKeys.add(`celery-task-meta-${id}`);
    return id;
  }

  /** A fresh group id (or one made elsewhere); its saved group and chord keys are deleted at cleanup. */
  groupId(id: string = randomUUID()): string {
    for (const key of groupKeys(id)) this.resultKeys.add(key);
    return id;
  }

  /** An app for sending from the test process (closed by the caller). */
  app(): App {
    return new App({ broker: this.brokerUrl, backend: this.backendUrl, defaultQueue: this.queue, logger: consoleLogger('error') });
  }

  /** Starts a celeriac worker (this file as a script) on the scope's queue (or `queue`). */
  startCeleriacWorker({ name = `celeriac-${randomUUID().slice(0, 8)}`, queue = this.queue }: WorkerChoice = {}): Promise<Started> {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', SELF, 'worker', this.brokerUrl, this.backendUrl, queue, `${name}@interop`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return untilReady(child, `${name}@interop`, this.started, WAIT_MS);
  }

  /** Starts `celery worker` (fixtures/py_interop_worker.py) on the scope's queue (or `queue`), threads pool, -c 2. */
  startPythonWorker({ name = `python-${randomUUID().slice(0, 8)}`, queue = this.queue }: WorkerChoice = {}): Promise<Started> {
    const args = ['-m', 'celery', '-A', 'py_interop_worker', 'worker', '-Q', queue, '-c', '2', '-P', 'threads', '--without-mingle', '--without-gossip', '--without-heartbeat', '-n', `${name}@%h`, '-l', 'warning'];
    const env = { ...process.env, INTEROP_REDIS_URL: REDIS_URL, INTEROP_PREFIX: this.prefix, PYTHONDONTWRITEBYTECODE: '1' };
    const child = spawn(PYTHON, args, { cwd: FIXTURES, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return untilReady(child, name, this.started, WAIT_MS);
  }

  /** Runs a command of fixtures/py_interop_client.py against the scope's queue; its JSON lines. */
  pythonClient<T = Record<string, unknown>>(...args: string[]): Promise<T[]> {
    const script = `${FIXTURES}py_interop_client.py`;
    return new Promise((resolvePromise, reject) => {
      execFile(PYTHON, [script, REDIS_URL, this.prefix, this.queue, ...args], { timeout: 2 * WAIT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        if (error) return reject(new Error(`python client ${args[0]} failed: ${error.message}\n${stderr}`));
        try {
          resolvePromise(stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T));
        } catch (cause) {
          reject(new Error(`python client ${args[0]} printed no JSON lines: ${stdout}\n${stderr}`, { cause }));
        }
      });
    });
  }

  /** Stops one process by PID: SIGTERM (a warm shutdown on both sides), SIGKILL if it lingers. */
  async stop(started: Started): Promise<void> {
    await stopChild(started.child);
    this.started.delete(started);
  }

  /** Stops every process this scope started, then deletes exactly the keys it made. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.started].map((s) => this.stop(s)));
    if (this.resultKeys.size) await this.redis.del(...this.resultKeys);
    await deletePrefixed(this.redis, this.prefix);
    this.redis.disconnect();
  }

}

/** Outcome lines of `py_interop_client.py call`. */
export interface PyOutcome {
  id: string;
  state: string;
  value?: unknown;
  exception?: PyException;
  raised?: PyException;
  retries: number | null;
  worker: string | null;
  eta: string | null;
}
export interface PyException {
  type: string;
  module: string;
  args: unknown[];
  str: string;
}

// ---------------------------------------------------------------------------------------------
// The celeriac worker process: `node --import tsx interop-fixture.ts worker <broker> <backend> <queue> <hostname>`

class QuotaExceeded extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function workerMain(brokerUrl: string, backendUrl: string, queue: string, hostname: string): Promise<void> {
  const app = new App({ broker: brokerUrl, backend: backendUrl, defaultQueue: queue, logger: consoleLogger('error') });
  const redis = new Redis(backendUrl); // the tests' own record lists and release flags
  app.task({ name: 'interop.add', params: ['x', 'y'] }, (_ctx, x: number, y: number) => x + y);
  app.task({ name: 'interop.describe', params: ['a', 'b?', 'c?'] }, (_ctx, a: unknown, b?: unknown, c?: unknown) => ({ a, b: b ?? null, c: c ?? null }));
  app.task({ name: 'interop.fail', params: ['kind', 'message'] }, (_ctx, kind: string, message: string) => {
    throw kind === 'range' ? new RangeError(message) : new QuotaExceeded(message);
  });
  app.task({ name: 'interop.flaky', maxRetries: 2 }, (ctx) => {
    if (ctx.retries === 0) ctx.retry({ countdown: 0.2, exc: new Error('first attempt fails') });
    return { ranWithRetries: ctx.retries };
  });
  app.task({ name: 'interop.when' }, (ctx) => ({ startedMs: Date.now(), eta: ctx.eta?.toISOString() ?? null }));
  app.task({ name: 'interop.progress', params: ['releaseKey'] }, async (ctx, releaseKey: string) => {
    await ctx.progress({ step: 1, of: 2, worker: ctx.hostname });
    // Held open until the test has seen PROGRESS (no guessing how long that takes).
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline && !ctx.signal.aborted) {
      if ((await redis.get(releaseKey)) !== null) return 'released';
      await sleep(20);
    }
    throw new Error(`${releaseKey} was never set`);
  });
  app.task({ name: 'interop.record', params: ['key'] }, async (ctx, key: string) => {
    await redis.rpush(key, JSON.stringify({ id: ctx.id, worker: 'celeriac', hostname: ctx.hostname }));
    await sleep(20);
    return 'celeriac';
  });
  registerCanvasTasks(app);
  const worker = Worker.create(app, { queues: [queue], concurrency: 4, hostname, handleSignals: true });
  const running = worker.run();
  while (worker.state === 'starting') await sleep(10);
  if (worker.state === 'running') process.stdout.write('ready\n');
  await running;
  await app.close();
  redis.disconnect();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF && process.argv[2] === 'worker') {
  const [brokerUrl, backendUrl, queue, hostname] = process.argv.slice(3);
  await workerMain(brokerUrl!, backendUrl!, queue!, hostname!);
}
