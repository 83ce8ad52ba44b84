/**
 * The worker process of a celeriac run (protocol: ../worker-process.ts), started by
 * worker-handle.ts: `argv: <broker/backend URL> <concurrency> [<backend URL>]`. It connects the app at start-up
 * and creates a plain `Worker.create(app, { concurrency })` when told to run.
 */
import { Worker } from '@celeriac/core';
import { parseConcurrency, serveWorker } from '../worker-child-protocol.js';
import { createBenchApp } from './bench-app.js';

serveWorker(async ([url, concurrencyText, backend], fail) => {
  if (!url) throw new Error('usage: worker-child.ts <url> <concurrency> [<backend url>]');
  const concurrency = parseConcurrency(concurrencyText);
  const { app } = createBenchApp(url, backend ?? url);
  await app.connect();
  let worker: Worker | null = null;
  let running: Promise<void> = Promise.resolve();
  return {
    start() {
      worker = Worker.create(app, { concurrency });
      running = worker.run();
      running.catch(fail);
    },
    async stop() {
      await worker?.shutdown();
      await running;
      await app.close();
      return { succeeded: worker?.stats.succeeded ?? 0 };
    },
  };
});
