/** Shared fixtures for core tests: an app on the in-memory broker and backend, and a running worker. */
import {
  App,
  MemoryBackend,
  MemoryBroker,
  Worker,
  silentLogger,
  type AppOptions,
  type OutgoingMessage,
  type PublishOptions,
  type RawMessage,
  type ResultBackend,
  type ResultMeta,
  type SetResultOptions,
  type WorkerOptions,
} from '../src/index.js';
import assert from 'node:assert/strict';

export function memoryApp(broker: MemoryBroker = new MemoryBroker(), options: AppOptions = {}): App {
  return new App({ broker, backend: new MemoryBackend(), logger: silentLogger, ...options });
}

/** Starts a worker and returns it with a stop function that waits for its run() to resolve. */
export function startWorker(app: App, options: WorkerOptions = {}): { worker: Worker; stop: () => Promise<void> } {
  const worker = Worker.create(app, { concurrency: 4, ...options });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      await worker.shutdown();
      await running;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A memory broker that remembers what was published (to check messages the worker sends). */
export class RecordingBroker extends MemoryBroker {
  readonly published: OutgoingMessage[] = [];
  override async publish(message: RawMessage, options: PublishOptions): Promise<void> {
    this.published.push({ message: structuredClone(message), options });
    return super.publish(message, options);
  }
}

/** A memory broker without native delay, so the worker itself must hold ETA tasks. */
export class NoDelayBroker extends MemoryBroker {
  override readonly capabilities = { ...new MemoryBroker().capabilities, nativeDelay: false };
  override async publish(message: RawMessage, options: PublishOptions): Promise<void> {
    return super.publish(message, { ...options, notBefore: null });
  }
}

/**
 * A ResultBackend that delegates to a MemoryBackend but keeps `set()` pending until released (a
 * slow backend, or one that is down and retrying): our own interface, not a stand-in for a service.
 */
export class HoldingBackend implements ResultBackend {
  readonly inner = new MemoryBackend();
  readonly capabilities = this.inner.capabilities;
  /** While true, each set() waits in `held` for a release. */
  holding = true;
  /** set() calls so far. */
  writes = 0;
  /** Writes waiting, oldest first. */
  readonly held: Array<{ taskId: string; release: () => void }> = [];

  async set(taskId: string, meta: ResultMeta, options?: SetResultOptions): Promise<void> {
    this.writes++;
    if (this.holding) await new Promise<void>((release) => this.held.push({ taskId, release }));
    return this.inner.set(taskId, meta, options);
  }
  releaseOldest(): void {
    this.held.shift()!.release();
  }
  releaseAll(): void {
    this.holding = false;
    for (const { release } of this.held.splice(0)) release();
  }
  connect = () => this.inner.connect();
  get = (taskId: string) => this.inner.get(taskId);
  getMany = (taskIds: readonly string[]) => this.inner.getMany(taskIds);
  delete = (taskId: string) => this.inner.delete(taskId);
  watch = (taskId: string) => this.inner.watch(taskId);
  close = () => this.inner.close();
}

/** Resolves once `check()` holds (polled every 5 ms); fails after `tries` polls, naming `what`. */
export async function until(check: () => boolean, what: string, tries = 1000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}
