/**
 * The worker process of a celeriac run, started by worker-handle.ts with an IPC channel:
 *
 *   argv: <broker/backend URL> <concurrency>
 *   -> parent  { type: 'ready' }           app connected (broker file open), not consuming yet
 *   <- parent  { type: 'run' }             create the worker and start consuming
 *   -> parent  { type: 'running' }         the worker's run() has been called
 *   <- parent  { type: 'stop' }            warm shutdown, close the app
 *   -> parent  { type: 'stopped', stats }  then the process exits
 *
 * Connecting before `run` keeps process start-up (loading TypeScript, opening the file) out of
 * the timed section; consuming starts only when the parent's clock does.
 */
import { Worker, type WorkerStats } from '@celeriac/core';
import { createBenchApp } from './bench-app.js';

export type ParentMessage = { type: 'run' } | { type: 'stop' };
export type ChildMessage = { type: 'ready' } | { type: 'running' } | { type: 'stopped'; stats: WorkerStats } | { type: 'failed'; error: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const [url, concurrencyText] = process.argv.slice(2);
  const concurrency = Number(concurrencyText);
  if (!url || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`usage: worker-child.ts <url> <concurrency>, got ${JSON.stringify(process.argv.slice(2))}`);
  }
  if (!process.send) throw new Error('worker-child.ts must be started with an IPC channel');
  const { app } = createBenchApp(url);
  await app.connect();
  let worker: Worker | null = null;
  let running: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await worker?.shutdown();
      await running;
      await app.close();
      const stats = worker?.stats ?? { received: 0, succeeded: 0, failed: 0, retried: 0, revoked: 0, deadLettered: 0 };
      if (process.connected) send({ type: 'stopped', stats });
      process.disconnect?.();
    })());
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'run' && !worker) {
      worker = Worker.create(app, { concurrency });
      running = worker.run();
      running.catch(fail);
      send({ type: 'running' });
    } else if (message.type === 'stop') {
      stop().catch(fail);
    }
  });
  // The parent going away (crash, Ctrl-C) must not leave this process consuming.
  process.on('disconnect', () => void stop().catch(fail));
  send({ type: 'ready' });
}

function fail(err: unknown): void {
  const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.connected) send({ type: 'failed', error });
  process.exitCode = 1;
  process.disconnect?.();
}

main().catch(fail);
