/**
 * The worker processes of the interop tests (Redis and AMQP alike): each prints `ready` once it
 * consumes; its stderr tail is kept for error messages; it is stopped by its own PID only.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A process a test started, with the tail of its stderr for error messages. */
export interface Started {
  readonly child: ChildProcess;
  /** celeriac: the full node name (`name@interop`); Python: the part before `@` (Celery adds the host). */
  readonly name: string;
  log(): string;
}

/** Which worker a scope starts: its name (a random one by default) and queue (the scope's by default). */
export interface WorkerChoice {
  readonly name?: string;
  readonly queue?: string;
}

/** Resolves once `child` prints `ready` (rejects if it exits first, or after `waitMs`); adds it to `started`. */
export function untilReady(child: ChildProcess, name: string, started: Set<Started>, waitMs: number): Promise<Started> {
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8000);
    if (process.env['INTEROP_DEBUG']) process.stderr.write(chunk);
  });
  const entry: Started = { child, name, log: () => tail };
  started.add(entry);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${name} was not ready within ${waitMs} ms:\n${tail}`)), waitMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`worker ${name} could not start: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker ${name} exited (${code ?? signal}) before it was ready:\n${tail}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.trim() !== 'ready') return;
      clearTimeout(timer);
      resolvePromise(entry);
    });
  });
}

/** Stops one process by its PID: SIGTERM (a warm shutdown on both sides), SIGKILL if it lingers. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(child.pid!, sig);
    } catch {
      // it exited meanwhile
    }
  };
  signal('SIGTERM');
  if (await within(15_000)) return;
  signal('SIGKILL');
  await within(5_000);
}
