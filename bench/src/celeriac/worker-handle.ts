/**
 * One celeriac worker for a scenario, either in a child process (worker-child.ts, for stores that
 * processes share) or in this process (for the memory store, which nothing else can reach).
 *
 * `start()` is the moment the timed "processing" begins: the worker is already loaded and
 * connected; it only starts consuming. `stop()` shuts it down warmly and returns its counters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type App, type WorkerStats } from '@celeriac/core';
import type { ChildMessage, ParentMessage } from './worker-child.js';

export interface WorkerHandle {
  /** Tells the worker to start consuming; resolves once its `run()` has been called. */
  start(): Promise<void>;
  /** Warm shutdown; resolves with the worker's counters once it has stopped. */
  stop(): Promise<WorkerStats>;
}

const CHILD_SCRIPT = fileURLToPath(new URL('./worker-child.ts', import.meta.url));
/** Child processes still alive, killed if this process exits early (an error, Ctrl-C). */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Spawns a worker process on `url` and resolves once it is connected and waiting for `start()`.
 * With `cpuProfileDir`, the child writes a V8 CPU profile there when it exits.
 */
export async function spawnWorker(url: string, concurrency: number, cpuProfileDir?: string): Promise<WorkerHandle> {
  const profile = cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir] : [];
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', ...profile, CHILD_SCRIPT, url, String(concurrency)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  const next = <T extends ChildMessage['type']>(type: T) => nextMessage(child, exited, type);
  const post = (message: ParentMessage) => child.send(message);
  await next('ready');
  let stopping: Promise<WorkerStats> | null = null;
  return {
    async start() {
      const running = next('running');
      post({ type: 'run' });
      await running;
    },
    stop() {
      stopping ??= (async () => {
        const stopped = next('stopped');
        post({ type: 'stop' });
        const { stats } = await stopped;
        const code = await exited;
        if (code !== 0) throw new Error(`the worker process exited with code ${code}`);
        return stats;
      })();
      return stopping;
    },
  };
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
      return { ...worker.stats };
    },
  };
}

/** The child's next message of `type`; rejects on a `failed` message or an early exit. */
function nextMessage<T extends ChildMessage['type']>(child: ChildProcess, exited: Promise<number | null>, type: T): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ChildMessage) => {
      if (message.type === 'failed') {
        child.off('message', onMessage);
        reject(new Error(`the worker process failed: ${message.error}`));
      } else if (message.type === type) {
        child.off('message', onMessage);
        resolve(message as Extract<ChildMessage, { type: T }>);
      }
    };
    child.on('message', onMessage);
    void exited.then((code) => reject(new Error(`the worker process exited (code ${code}) while the bench waited for "${type}"`)));
  });
}
