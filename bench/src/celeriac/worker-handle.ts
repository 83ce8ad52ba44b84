/**
 * One celeriac worker for a scenario, either in a child process (worker-child.ts, for stores that
 * processes share) or in this process (for the memory store, which nothing else can reach).
 *
 * `start()` is the moment the timed "processing" begins: the worker is already loaded and
 * connected; it only starts consuming. `stop()` shuts it down warmly and returns its counters.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type App } from '@celeriac/core';
import { spawnWorkerProcess, type WorkerHandle } from '../worker-process.js';

export type { WorkerHandle } from '../worker-process.js';

/** celeriac's worker process: `argv: <url> <concurrency> [<result backend url>]`. */
export const CELERIAC_WORKER_SCRIPT = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

/**
 * Spawns a worker process on `url` and resolves once it is connected and waiting for `start()`.
 * With `cpuProfileDir`, the child writes a V8 CPU profile there when it exits.
 */
export function spawnWorker(url: string, concurrency: number, cpuProfileDir?: string, backend?: string): Promise<WorkerHandle> {
  return spawnWorkerProcess(CELERIAC_WORKER_SCRIPT, [url, String(concurrency), ...(backend ? [backend] : [])], { cpuProfileDir });
}

/** A worker on the same app, in this process. */
export function inProcessWorker(app: App, concurrency: number): WorkerHandle {
  const worker = Worker.create(app, { concurrency });
  let running: Promise<void> = Promise.resolve();
  return {
    async start() {
      running = worker.run();
    },
    async stop() {
      await worker.shutdown();
      await running;
      // The producer shares this process: the worker's CPU time cannot be told apart.
      return { succeeded: worker.stats.succeeded, cpuMs: null };
    },
  };
}
