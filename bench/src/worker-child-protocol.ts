/**
 * The child side of worker-process.ts: a worker script calls `serveWorker` with a function that
 * connects (untimed) and returns how to start and stop consuming; this file speaks the protocol.
 * The parent going away (crash, Ctrl-C) stops the worker, so no child is left consuming.
 */
import type { ChildMessage, ParentMessage, WorkerCounts } from './worker-process.js';

export interface ChildWorker {
  /** Starts consuming (called once, when the parent's clock starts). */
  start(): void | Promise<void>;
  /** Warm shutdown and close; resolves with the tasks that succeeded. Called at most once. */
  stop(): Promise<{ readonly succeeded: number }>;
}

/** `connect` receives the script's arguments and `fail`, for errors raised after start-up. */
export type ConnectWorker = (args: readonly string[], fail: (err: unknown) => void) => Promise<ChildWorker>;

function send(message: ChildMessage): void {
  process.send?.(message);
}

function fail(err: unknown): void {
  const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.connected) send({ type: 'failed', error });
  process.exitCode = 1;
  process.disconnect?.();
}

/** Parses `<concurrency>` the way every worker script takes it. */
export function parseConcurrency(text: string | undefined): number {
  const concurrency = Number(text);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`expected a concurrency >= 1, got ${JSON.stringify(text)}`);
  return concurrency;
}

export function serveWorker(connect: ConnectWorker): void {
  const main = async () => {
    if (!process.send) throw new Error(`${process.argv[1]} must be started with an IPC channel (see worker-process.ts)`);
    const worker = await connect(process.argv.slice(2), fail);
    let started: NodeJS.CpuUsage | null = null;
    let stopping: Promise<void> | null = null;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        const { succeeded } = await worker.stop();
        const cpu = started && process.cpuUsage(started);
        const counts: WorkerCounts = { succeeded, cpuMs: cpu ? (cpu.user + cpu.system) / 1000 : null };
        if (process.connected) send({ type: 'stopped', counts });
        process.disconnect?.();
      })());
    process.on('message', (message: ParentMessage) => {
      if (message.type === 'run' && !started) {
        started = process.cpuUsage();
        Promise.resolve(worker.start()).then(() => send({ type: 'running' }), fail);
      } else if (message.type === 'stop') {
        stop().catch(fail);
      }
    });
    process.on('disconnect', () => void stop().catch(fail));
    send({ type: 'ready' });
  };
  main().catch(fail);
}
