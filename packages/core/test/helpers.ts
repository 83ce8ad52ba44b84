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
  type WorkerOptions,
} from '../src/index.js';

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
