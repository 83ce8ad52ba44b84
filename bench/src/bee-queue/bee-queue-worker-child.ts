/**
 * The bee-queue worker process (protocol: ../worker-process.ts):
 * `argv: <host> <port> <db> <queue> <concurrency>`. A worker `Queue` with bee-queue's defaults
 * (`removeOnSuccess: false`, success events published) and `process(concurrency, handler)` when
 * told to run.
 */
import BeeQueue from 'bee-queue';
import { parseConcurrency, serveWorker } from '../worker-child-protocol.js';

serveWorker(async ([host, port, db, queueName, concurrencyText]) => {
  if (!host || !port || !db || !queueName) throw new Error('usage: bee-queue-worker-child.ts <host> <port> <db> <queue> <concurrency>');
  const concurrency = parseConcurrency(concurrencyText);
  const queue = new BeeQueue(queueName, { redis: { host, port: Number(port), db: Number(db) }, prefix: 'bq', isWorker: true, getEvents: false, removeOnSuccess: false });
  let succeeded = 0;
  queue.on('succeeded', () => void succeeded++);
  await queue.ready();
  return {
    start() {
      // A no-op handler that returns nothing, as the other rows' task.
      queue.process(concurrency, async () => undefined);
    },
    async stop() {
      await queue.close(30_000);
      return { succeeded };
    },
  };
});
