/**
 * A worker in a child Node process, for every contestant whose worker runs in Node (celeriac,
 * BullMQ, bee-queue). The parent side here; the child side is worker-child-protocol.ts. Over IPC:
 *
 *   -> parent  { type: 'ready' }              loaded and connected, not consuming yet
 *   <- parent  { type: 'run' }                start consuming
 *   -> parent  { type: 'running' }            consuming has been started
 *   <- parent  { type: 'stop' }               warm shutdown, close the connections
 *   -> parent  { type: 'stopped', counts }    then the process exits
 *
 * Connecting before `run` keeps process start-up (loading TypeScript, connecting) out of the timed
 * section; consuming starts only when the parent's clock does.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** What a worker reports when it stops. */
export interface WorkerCounts {
  /** Tasks the worker ran successfully. */
  readonly succeeded: number;
  /** CPU time (user + system) the worker process used from `run` to stopped; null if not measured. */
  readonly cpuMs: number | null;
}

export type ParentMessage = { type: 'run' } | { type: 'stop' };
export type ChildMessage = { type: 'ready' } | { type: 'running' } | { type: 'stopped'; counts: WorkerCounts } | { type: 'failed'; error: string };

export interface WorkerHandle {
  /** Tells the worker to start consuming; resolves once it has. */
  start(): Promise<void>;
  /** Warm shutdown; resolves with the worker's counters once it has stopped. */
  stop(): Promise<WorkerCounts>;
}

export interface SpawnOptions {
  /** Directory where the child writes a V8 CPU profile when it exits. */
  readonly cpuProfileDir?: string | undefined;
  /** More Node flags for the child, after tsx's `--import` (e.g. another `--import`). */
  readonly nodeFlags?: readonly string[];
}

/** Child processes still alive, killed if this process exits early (an error, Ctrl-C). */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * The parent's `--conditions` flags: `npm run bench` runs the built packages (dist, what users
 * run); a run with `--conditions=development` runs their sources, and so do its workers.
 */
const CONDITIONS = process.execArgv.flatMap((arg, i, all) => {
  if (arg.startsWith('--conditions=')) return [arg];
  // `--conditions x` and `-C x`: the flag and its value.
  if ((arg === '--conditions' || arg === '-C') && all[i + 1] !== undefined) return [arg, all[i + 1]!];
  return [];
});

/** Starts `script` (TypeScript, through tsx) with `args`; resolves once it is connected and waiting. */
export async function spawnWorkerProcess(script: string, args: readonly string[], options: SpawnOptions = {}): Promise<WorkerHandle> {
  const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const child = spawn(process.execPath, [...CONDITIONS, '--import', 'tsx', ...(options.nodeFlags ?? []), ...profile, script, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  const next = <T extends ChildMessage['type']>(type: T) => nextMessage(child, exited, type);
  const post = (message: ParentMessage) => child.send(message);
  try {
    await next('ready');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  let stopping: Promise<WorkerCounts> | null = null;
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
        const { counts } = await stopped;
        const code = await exited;
        if (code !== 0) throw new Error(`the worker process exited with code ${code}`);
        return counts;
      })();
      return stopping;
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
