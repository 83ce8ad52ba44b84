/**
 * What the AMQP interop-*.test.ts files share, for running real Python Celery 5.2
 * (`/usr/bin/python3`, Debian's python3-celery on py-amqp) and celeriac against RabbitMQ:
 *
 * - `interopSkipReason()`: RabbitMQ (amqp-fixture.ts `amqpSkipReason`), Python Celery 5.2 with
 *   py-amqp and, for the tests that keep results or records in it, Redis. A skip with the reason
 *   outside CI; under CI a missing dependency throws (a failure, not a skip).
 * - `AmqpInteropScope`: a test file's namespace — a RabbitMQ vhost of its own (`VhostScope`), one
 *   task queue (and queues named after it, `sideQueue()`), a scratch directory (records and
 *   release flags both languages can write), and, with `{ redis: true }`, a Redis key prefix plus
 *   the `celery-task-meta-<id>` and `celery-taskset-meta-<gid>*` keys of the task and group ids it
 *   handed out or was given. It remembers the processes it started; `cleanup()` stops exactly those by PID,
 *   deletes the vhost with everything in it, the directory, and exactly its Redis keys.
 * - Worker processes: a celeriac worker (this file run as a script, see `workerMain`) and a Celery
 *   worker (`celery worker -P threads`, fixtures/py_amqp_interop_worker.py); both print `ready`
 *   once they consume.
 * - `pythonClient()`: fixtures/py_amqp_interop_client.py, one JSON document per output line.
 *
 * Both workers and both clients declare the task queue as Celery declares it (durable direct
 * exchange and durable queue named like it, no arguments), so no PRECONDITION_FAILED.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, consoleLogger, Worker } from '@celeriac/core';
import { Redis } from 'ioredis';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';
import { stopChild, untilReady, type Started, type WorkerChoice } from '../../redis/test/interop-processes.js';
import { groupKeys, registerCanvasTasks } from '../../redis/test/interop-canvas-checks.js';
/** One execution of `interop.record`, as either worker writes it. */
import type { SharedRun as Run } from '../../redis/test/interop-checks.js';
import type { PyException } from '../../redis/test/interop-fixture.js';
export type { PyException, Run, Started };

export const PYTHON = process.env['CELERIAC_PYTHON'] ?? '/usr/bin/python3';
export const REDIS_URL = process.env['CELERIAC_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';
const SELF = fileURLToPath(import.meta.url);
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Generous bound for anything to happen (a worker starting, a result arriving). */
export const WAIT_MS = 60_000;

function unavailable(reason: string): string {
  if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
  return reason;
}

/** Why the interop tests cannot run here, or false. Under CI a missing dependency throws instead. */
export async function interopSkipReason(options: { redis?: boolean } = {}): Promise<string | false> {
  const amqp = await amqpSkipReason();
  if (amqp) return amqp;
  const modules = options.redis ? 'celery, amqp, kombu, redis' : 'celery, amqp, kombu';
  const probe = spawnSync(PYTHON, ['-c', `import ${modules}; assert celery.VERSION[:2] == (5, 2), celery.__version__`]);
  if (probe.status !== 0) {
    return unavailable(`Python Celery 5.2 with ${modules.replace('celery, ', '')} is not available at ${PYTHON} (apt-get install -y python3-celery python3-amqp${options.redis ? ' python3-redis' : ''})`);
  }
  if (options.redis) {
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      return unavailable(`Redis at ${REDIS_URL} is unreachable (${(err as Error).message}); start one or set CELERIAC_REDIS_URL`);
    } finally {
      client.disconnect();
    }
  }
  return false;
}


export class AmqpInteropScope {
  readonly vhost = new VhostScope();
  readonly queue: string;
  /** Redis key prefix (with `{ redis: true }`): record lists live under it. */
  readonly prefix: string;
  readonly redis: Redis | null;
  private dirPath: string | null = null;
  private readonly resultKeys = new Set<string>();
  private readonly started = new Set<Started>();

  constructor(
    readonly label: string,
    options: { redis?: boolean } = {},
  ) {
    this.queue = `interop-${label}-${randomUUID()}`;
    this.prefix = `celeriac-test:amqp-interop-${label}:${randomUUID()}:`;
    this.redis = options.redis ? new Redis(REDIS_URL, { lazyConnect: true }) : null;
    this.redis?.on('error', () => {});
  }

  /** Makes the vhost and the scratch directory. */
  async create(): Promise<void> {
    this.dirPath = await mkdtemp(join(tmpdir(), `celeriac-amqp-interop-${this.label}-`));
    await this.vhost.create();
  }

  /** The broker URL of the scope's vhost (the same for kombu and celeriac). */
  get brokerUrl(): string {
    return this.vhost.url();
  }

  /** The scratch directory both languages write records and release flags into. */
  get dir(): string {
    if (!this.dirPath) throw new Error('AmqpInteropScope.create() was not called');
    return this.dirPath;
  }

  /** Where `interop.record` appends: the Redis URL (keys are list names) or the scratch directory (keys are file names). */
  get records(): string {
    return this.redis ? REDIS_URL : this.dir;
  }

  /** A record key: under the Redis prefix, or a file name in the directory. */
  key(name: string): string {
    return this.redis ? `${this.prefix}${name}` : name;
  }

  /** Another queue of the scope's (`<queue>.<side>`), e.g. one per worker; in the vhost like the first. */
  sideQueue(side: string): string {
    return `${this.queue}.${side}`;
  }

  /** A fresh task id (or one made elsewhere); with Redis its `celery-task-meta-<id>` key is deleted at cleanup. */
  taskId(id: string = randomUUID()): string {
    if (this.redis) this.resultKeys.add(`celery-task-meta-${id}`);
    return id;
  }

  /** A fresh group id (or one made elsewhere); with Redis its saved group and chord keys are deleted at cleanup. */
  groupId(id: string = randomUUID()): string {
    if (this.redis) for (const key of groupKeys(id)) this.resultKeys.add(key);
    return id;
  }

  /** The runs `interop.record` wrote under `key`, in order. */
  async runs(key: string): Promise<Run[]> {
    if (this.redis) return (await this.redis.lrange(key, 0, -1)).map((line) => JSON.parse(line) as Run);
    const text = await readFile(join(this.dir, key), 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Run);
  }

  /** Creates the release flag `name` (a file in the scratch directory) that a progress task waits for. */
  release(name: string): Promise<void> {
    return appendFile(join(this.dir, name), '1');
  }

  /** An app for sending from the test process (closed by the caller). */
  app(backend: string): App {
    return new App({ broker: this.brokerUrl, backend, defaultQueue: this.queue, logger: consoleLogger('error') });
  }

  /** Starts a celeriac worker (this file as a script) on the scope's queue (or `queue`), concurrency 4. */
  startCeleriacWorker(backend: string, { name = `celeriac-${randomUUID().slice(0, 8)}`, queue = this.queue }: WorkerChoice = {}): Promise<Started> {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', SELF, 'worker', this.brokerUrl, backend, queue, `${name}@interop`, this.records], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return untilReady(child, `${name}@interop`, this.started, WAIT_MS);
  }

  /** Starts `celery worker` (fixtures/py_amqp_interop_worker.py) on the scope's queue (or `queue`), threads pool, -c 2. */
  startPythonWorker(backend: string, { name = `python-${randomUUID().slice(0, 8)}`, queue = this.queue }: WorkerChoice = {}): Promise<Started> {
    const args = ['-m', 'celery', '-A', 'py_amqp_interop_worker', 'worker', '-Q', queue, '-c', '2', '-P', 'threads', '--without-mingle', '--without-gossip', '--without-heartbeat', '-n', `${name}@%h`, '-l', 'warning'];
    const env = { ...process.env, INTEROP_BROKER_URL: this.brokerUrl, INTEROP_BACKEND_URL: backend, INTEROP_RECORDS: this.records, PYTHONDONTWRITEBYTECODE: '1' };
    const child = spawn(PYTHON, args, { cwd: FIXTURES, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return untilReady(child, name, this.started, WAIT_MS);
  }

  /** Runs a command of fixtures/py_amqp_interop_client.py (Celery with `backend`) on the scope's queue; its JSON lines. */
  pythonClient<T = Record<string, unknown>>(backend: string, ...args: string[]): Promise<T[]> {
    const script = `${FIXTURES}py_amqp_interop_client.py`;
    return new Promise((resolvePromise, reject) => {
      execFile(PYTHON, [script, this.brokerUrl, backend, this.queue, this.records, ...args], { timeout: 3 * WAIT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
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

  /** Stops every process this scope started, then deletes its vhost, directory and Redis keys. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.started].map((s) => this.stop(s)));
    try {
      await this.vhost.cleanup();
    } finally {
      if (this.dirPath) await rm(this.dirPath, { recursive: true, force: true });
      if (this.redis) {
        if (this.resultKeys.size) await this.redis.del(...this.resultKeys);
        let cursor = '0';
        do {
          const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await this.redis.del(...keys);
        } while (cursor !== '0');
        this.redis.disconnect();
      }
    }
  }

}

/** What `py_amqp_interop_client.py call` prints for each call. */
export interface PyOutcome {
  id: string;
  state: string;
  value?: unknown;
  exception?: PyException;
  raised?: PyException;
  /** Every state message the Python client received for this task, in order (Celery's `on_message`). */
  states: string[];
  eta: string | null;
}

// ---------------------------------------------------------------------------------------------
// The celeriac worker process:
// `node --import tsx interop-fixture.ts worker <broker> <backend> <queue> <hostname> <records>`
// <records> is a Redis URL (record keys are list names) or a directory (record keys are file names).

class QuotaExceeded extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function workerMain(brokerUrl: string, backendUrl: string, queue: string, hostname: string, records: string): Promise<void> {
  const app = new App({ broker: brokerUrl, backend: backendUrl, defaultQueue: queue, logger: consoleLogger('error') });
  const redis = records.startsWith('redis://') ? new Redis(records) : null;
  const record = (key: string, run: Run) => (redis ? redis.rpush(key, JSON.stringify(run)).then(() => undefined) : appendFile(join(records, key), `${JSON.stringify(run)}\n`));

  app.task({ name: 'interop.add', params: ['x', 'y'] }, (_ctx, x: number, y: number) => x + y);
  app.task({ name: 'interop.describe', params: ['a', 'b?', 'c?'] }, (_ctx, a: unknown, b?: unknown, c?: unknown) => ({ a, b: b ?? null, c: c ?? null }));
  app.task({ name: 'interop.fail', params: ['kind', 'message'] }, (_ctx, kind: string, message: string) => {
    throw kind === 'range' ? new RangeError(message) : new QuotaExceeded(message);
  });
  app.task({ name: 'interop.flaky', maxRetries: 2 }, (ctx) => {
    if (ctx.retries === 0) ctx.retry({ countdown: 0.2, exc: new Error('first attempt fails') });
    return { ranWithRetries: ctx.retries, worker: ctx.hostname };
  });
  app.task({ name: 'interop.when' }, (ctx) => ({ startedMs: Date.now(), eta: ctx.eta?.toISOString() ?? null, worker: ctx.hostname }));
  app.task({ name: 'interop.progress', params: ['release'] }, async (ctx, release: string) => {
    await ctx.progress({ step: 1, of: 2, worker: ctx.hostname });
    // Held open until the client has seen PROGRESS and creates the release file (no guessing how long that takes).
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline && !ctx.signal.aborted) {
      if (await access(join(records, release)).then(() => true, () => false)) return 'released';
      await sleep(20);
    }
    throw new Error(`${release} was never created`);
  });
  app.task({ name: 'interop.record', params: ['key'] }, async (ctx, key: string) => {
    await record(key, { id: ctx.id, worker: 'celeriac', hostname: ctx.hostname });
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
  redis?.disconnect();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF && process.argv[2] === 'worker') {
  const [brokerUrl, backendUrl, queue, hostname, records] = process.argv.slice(3);
  await workerMain(brokerUrl!, backendUrl!, queue!, hostname!, records!);
}
