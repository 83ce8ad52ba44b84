/**
 * The BullMQ worker process (protocol: ../worker-process.ts):
 * `argv: <host> <port> <db> <queue> <concurrency>`. A plain `new Worker(queue, handler,
 * { concurrency, autorun: false })` with BullMQ's defaults otherwise: results kept in the job hash
 * (`removeOnComplete` unset), lock renewal and the stalled-job check on.
 */
import { Worker } from 'bullmq';
import { parseConcurrency, serveWorker } from '../worker-child-protocol.js';
import { noop } from './bullmq-names.js';

serveWorker(async ([host, port, db, queue, concurrencyText]) => {
  if (!host || !port || !db || !queue) throw new Error('usage: bullmq-worker-child.ts <host> <port> <db> <queue> <concurrency>');
  const concurrency = parseConcurrency(concurrencyText);
  // maxRetriesPerRequest: null is what BullMQ requires of a worker's connection.
  const worker = new Worker(queue, noop, { connection: { host, port: Number(port), db: Number(db), maxRetriesPerRequest: null }, concurrency, autorun: false });
  let succeeded = 0;
  worker.on('completed', () => void succeeded++);
  await worker.waitUntilReady();
  let running: Promise<void> = Promise.resolve();
  return {
    start() {
      running = worker.run();
    },
    async stop() {
      await worker.close();
      await running;
      return { succeeded };
    },
  };
});
