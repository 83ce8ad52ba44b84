/**
 * What the chaos tests share: real `celeriac worker` child processes (the CLI, loading
 * fixtures/chaos-app.ts) that are tracked and ended only by their own PIDs, the worker's progress
 * read from its log lines, and waiting for every task id of a run to have a SUCCESS result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ResultBackend } from '@celeriac/core';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI_MAIN = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
export const CHAOS_APP = fileURLToPath(new URL('./fixtures/chaos-app.ts', import.meta.url));
/** Only there so a child outlives no hung test run: far beyond any wait of the suite. */
const GIVE_UP_MS = 170_000;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A `celeriac worker` child process and what it has logged. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  /** `processed` of the worker's latest progress line (its Worker.stats). */
  processed = 0;
  /** From the `totals:` line it logs when it stops. */
  totals: { processed: number; succeeded: number } | null = null;
  private exit: Exit | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    const argv = ['--conditions=development', '--import', 'tsx', CLI_MAIN, 'worker', '-A', CHAOS_APP, ...args];
    this.child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error('the worker process did not start');
    this.pid = this.child.pid;
    STARTED.add(this);
    const giveUp = setTimeout(() => this.kill('SIGKILL'), GIVE_UP_MS).unref();
    for (const stream of [this.child.stdout!, this.child.stderr!]) createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    this.exited = new Promise<Exit>((resolve) => {
      // 'close', not 'exit': by then every line it wrote has been read.
      this.child.once('close', (code, signal) => {
        clearTimeout(giveUp);
        this.exit = { code, signal };
        STARTED.delete(this);
        this.wake();
        resolve(this.exit);
      });
    });
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** Sends `signal` to this process, by its PID, if it is still running. */
  kill(signal: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** Resolves with the first line (so far or to come) matching `pattern`; rejects on exit or after `ms`. */
  waitForLine(pattern: RegExp, ms: number): Promise<string> {
    return this.waitUntil(() => this.lines.find((l) => pattern.test(l)) ?? null, ms, `a line matching ${pattern}`);
  }

  /** Resolves once the worker has logged at least `n` processed tasks. */
  async waitProcessed(n: number, ms: number): Promise<void> {
    await this.waitUntil(() => (this.processed >= n ? true : null), ms, `${n} processed tasks`);
  }

  /** The last lines it logged, for failure messages. */
  tail(n = 15): string {
    return this.lines.slice(-n).join('\n');
  }

  private waitUntil<T>(check: () => T | null, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`worker ${this.pid}: timed out after ${ms} ms waiting for ${what}; last lines:\n${this.tail()}`)), ms);
      const listener = () => {
        const found = check();
        if (found !== null) done(null, found);
        else if (!this.alive) done(new Error(`worker ${this.pid} exited (${JSON.stringify(this.exit)}) before ${what}; last lines:\n${this.tail()}`));
      };
      const done = (err: Error | null, value?: T) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        if (err) reject(err);
        else resolve(value as T);
      };
      this.listeners.add(listener);
      listener();
    });
  }

  private onLine(line: string): void {
    this.lines.push(line);
    const progress = /progress: (\d+) processed/.exec(line);
    if (progress) this.processed = Number(progress[1]);
    const totals = /totals: (\d+) processed \((\d+) succeeded/.exec(line);
    if (totals) this.totals = { processed: Number(totals[1]), succeeded: Number(totals[2]) };
    this.wake();
  }

  private wake(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

const STARTED = new Set<WorkerProcess>();

/** SIGKILLs, by PID, every worker process this test file started that is still running. */
export async function killStartedWorkers(): Promise<void> {
  const running = [...STARTED].filter((w) => w.alive);
  for (const w of running) w.kill('SIGKILL');
  await Promise.all(running.map((w) => w.exited));
}

/** Warm shutdown (SIGTERM) and its exit. */
export async function stopWorker(worker: WorkerProcess, ms = 30_000): Promise<Exit> {
  worker.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`worker ${worker.pid} did not exit within ${ms} ms of SIGTERM; last lines:\n${worker.tail()}`)), ms);
  });
  try {
    return await Promise.race([worker.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Statuses of `ids` in the backend (MGET in chunks); a missing result counts as PENDING. */
export async function statuses(backend: ResultBackend, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const metas = await backend.getMany(chunk);
    chunk.forEach((id, j) => out.set(id, metas[j]?.status ?? 'PENDING'));
  }
  return out;
}

/**
 * Polls until every id has a SUCCESS result; returns the ids still without one after `ms`
 * (an empty list when all succeeded), so the caller's assertion names them.
 */
export async function waitAllSucceeded(backend: ResultBackend, ids: readonly string[], ms: number, pollMs = 250): Promise<string[]> {
  const deadline = Date.now() + ms;
  let pending = [...ids];
  for (;;) {
    try {
      const now = await statuses(backend, pending);
      pending = pending.filter((id) => now.get(id) !== 'SUCCESS');
    } catch {
      // The backend may be reconnecting: poll again.
    }
    if (pending.length === 0 || Date.now() > deadline) return pending;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** How many times each entry occurs. */
export function countBy<T>(items: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/**
 * The producer of the restart tests: sends one `chaos.noop` per id to `queue`, `batch` per
 * `sendTasks`, at most `ahead` sent-but-unprocessed ones ahead of the worker (so that sending spans
 * the restart) unless `paused()` says the broker is down (then it sends at once, to be caught by
 * the outage). A batch that fails with CELERIAC_E_UNAVAILABLE is sent again with the same ids
 * (at-least-once); any other error, or 30 failures of one batch, ends it with that error.
 */
export class PacedProducer {
  /** Tasks whose sendTasks() resolved. */
  sent = 0;
  /** A sendTasks() is under way (or waiting before a retry). */
  publishing = false;
  publishRetries = 0;
  readonly done: Promise<void>;

  constructor(
    app: { sendTasks(calls: { name: string; options: { args: unknown[]; taskId: string; queue: string } }[]): Promise<unknown> },
    worker: WorkerProcess,
    ids: readonly string[],
    options: { queue: string; batch: number; ahead: number; paused: () => boolean; diagnostic: (line: string) => void },
  ) {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    this.done = (async () => {
      for (let i = 0; i < ids.length; i += options.batch) {
        while (!options.paused() && this.sent - worker.processed > options.ahead) {
          if (!worker.alive) throw new Error(`the worker exited while the producer waited; last lines:\n${worker.tail()}`);
          await sleep(20);
        }
        const batch = ids.slice(i, i + options.batch).map((taskId, j) => ({ name: 'chaos.noop', options: { args: [i + j], taskId, queue: options.queue } }));
        this.publishing = true;
        for (let attempt = 1; ; attempt++) {
          try {
            await app.sendTasks(batch);
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== 'CELERIAC_E_UNAVAILABLE' || attempt >= 30) throw err;
            this.publishRetries++;
            options.diagnostic(`batch ${i / options.batch} attempt ${attempt} failed, sending it again: ${(err as Error).message}`);
            await sleep(250);
          }
        }
        this.publishing = false;
        this.sent = i + batch.length;
      }
    })();
  }
}
