/**
 * celeriac on RabbitMQ: the producer is an App in this process (`amqp://` broker, `rpc://`
 * results), the worker a plain `Worker.create(app, { concurrency })` in a child process
 * (celeriac/worker-child.ts). Sends are `task.applyMany` in batches (one confirmed publish of the
 * batch); "done" is every id's SUCCESS received on the producer's reply queue.
 */
import { randomUUID } from 'node:crypto';
import type { EndToEndFigures, ScenarioConfig } from '../contestant.js';
import { awaitAllSucceeded, countSucceeded } from '../celeriac/await-results.js';
import { createBenchApp } from '../celeriac/bench-app.js';
import { spawnWorker } from '../celeriac/worker-handle.js';
import { withVhost, type AmqpServer } from './amqp-server.js';
import { AMQP_DURABILITY, type AmqpRow } from './amqp-row.js';

export function celeriacAmqpRow(server: AmqpServer, cpuProfileDir?: string): AmqpRow {
  return {
    name: 'celeriac-amqp',
    traits: {
      store: `RabbitMQ ${server.version} (@celeriac/amqp), results rpc://`,
      resultsStored: 'yes: Celery\'s rpc result message to the producer\'s reply queue',
      durability: AMQP_DURABILITY,
      acks: 'early (Celery default)',
      worker: 'separate process, concurrency as configured, prefetch 4 × concurrency',
    },
    endToEnd: (config) => withVhost(server, 'celeriac', (url) => endToEnd(url, config, cpuProfileDir)),
  };
}

async function endToEnd(url: string, config: ScenarioConfig, cpuProfileDir?: string): Promise<EndToEndFigures> {
  const bench = createBenchApp(url, 'rpc://');
  try {
    await bench.app.connect();
    const worker = await spawnWorker(url, config.concurrency, cpuProfileDir, 'rpc://');
    await worker.start();
    const ids = Array.from({ length: config.tasks }, () => randomUUID());
    const start = performance.now();
    const done = awaitAllSucceeded(bench.app.backend!, ids);
    done.catch(() => undefined);
    for (let i = 0; i < ids.length; i += config.batch) {
      await bench.noop.applyMany(ids.slice(i, i + config.batch).map((taskId) => ({ taskId })));
    }
    await done;
    const ms = performance.now() - start;
    const counts = await worker.stop();
    const verified = await countSucceeded(bench.app.backend!, ids);
    return { tasks: ids.length, ms, verified, workerSucceeded: counts.succeeded, workerCpuMs: counts.cpuMs };
  } finally {
    await bench.app.close();
  }
}
