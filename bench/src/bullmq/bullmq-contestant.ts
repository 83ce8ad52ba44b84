/**
 * BullMQ on Redis as a contestant. Each scenario gets its own empty database (redis-db.ts), a
 * `Queue` in this process (the producer) and a `Worker` in a child process (bullmq-worker-child.ts).
 *
 * - enqueue: `Queue.addBulk`, `config.batch` jobs per call;
 * - done: the completed set (`getCompletedCount()`) holds N, read every 5 ms;
 * - verified: each job is in the completed set and its hash has a `returnvalue`;
 * - latency: `queue.add` then `job.waitUntilFinished(queueEvents)`, BullMQ's own round trip.
 */
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BulkFigures, Contestant, EndToEndFigures, LatencyFigures, ScenarioConfig } from '../contestant.js';
import { awaitCount, withEmptyDb, type RedisTarget } from '../redis-db.js';
import { spawnWorkerProcess, type SpawnOptions, type WorkerHandle } from '../worker-process.js';
import { timeEndToEnd, timeRoundTrips } from '../timing.js';
import { JOB_NAME } from './bullmq-names.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./bullmq-worker-child.ts', import.meta.url));

interface Scene {
  readonly queue: Queue;
  readonly worker: WorkerHandle;
  readonly redis: Redis;
}

export function bullmqContestant(target: RedisTarget, spawnOptions: SpawnOptions = {}): Contestant {
  async function scene<T>(config: ScenarioConfig, fn: (scene: Scene) => Promise<T>): Promise<T> {
    return withEmptyDb(target, async (redis) => {
      const name = `bench-${process.pid}-${Date.now()}`;
      const queue = new Queue(name, { connection: { host: target.host, port: target.port, db: target.db } });
      let worker: WorkerHandle | null = null;
      try {
        await queue.waitUntilReady();
        const args = [target.host, String(target.port), String(target.db), name, String(config.concurrency)];
        worker = await spawnWorkerProcess(CHILD_SCRIPT, args, spawnOptions);
        return await fn({ queue, worker, redis });
      } finally {
        await worker?.stop().catch(() => undefined);
        await queue.close();
      }
    });
  }

  return {
    name: 'bullmq-redis',
    traits: {
      store: `BullMQ on Redis (db ${target.db})`,
      resultsStored: 'yes (returnvalue in the job hash; removeOnComplete unset)',
      durability: target.durability,
      acks: 'late-equivalent (job locked in active until moved to completed)',
      worker: 'separate process',
    },

    bulk: (config) =>
      scene(config, async ({ queue, worker, redis }): Promise<BulkFigures> => {
        const enqueueStart = performance.now();
        const ids = await addAll(queue, config);
        const enqueueMs = performance.now() - enqueueStart;
        const queued = await queue.getWaitingCount();

        const processStart = performance.now();
        await worker.start();
        await awaitCount(() => queue.getCompletedCount(), ids.length);
        const processMs = performance.now() - processStart;

        const counts = await worker.stop();
        const verified = await countStored(redis, queue, ids);
        return { tasks: ids.length, enqueueMs, queued, processMs, verified, workerSucceeded: counts.succeeded, workerCpuMs: counts.cpuMs };
      }),

    endToEnd: (config) =>
      scene(config, async ({ queue, worker, redis }): Promise<EndToEndFigures> => {
        const run = await timeEndToEnd(config, worker, () => queue.getCompletedCount(), () => addAll(queue, config));
        const verified = await countStored(redis, queue, run.ids);
        return { tasks: run.ids.length, ms: run.ms, verified, workerSucceeded: run.succeeded, workerCpuMs: run.cpuMs };
      }),

    latency: (config) =>
      scene(config, async ({ queue, worker }): Promise<LatencyFigures> => {
        const events = new QueueEvents(queue.name, { connection: { host: target.host, port: target.port, db: target.db } });
        try {
          await events.waitUntilReady();
          await worker.start();
          const roundTrip = async () => {
            const job = await queue.add(JOB_NAME, {});
            await job.waitUntilFinished(events, 30_000);
          };
          return await timeRoundTrips(config, roundTrip, worker, target);
        } finally {
          await events.close();
        }
      }),
  };
}

/** Adds `config.tasks` jobs, `config.batch` per `addBulk`, one call after another; their ids. */
async function addAll(queue: Queue, config: ScenarioConfig): Promise<string[]> {
  const ids: string[] = [];
  for (let sent = 0; sent < config.tasks; sent += config.batch) {
    const size = Math.min(config.batch, config.tasks - sent);
    const jobs = await queue.addBulk(Array.from({ length: size }, () => ({ name: JOB_NAME, data: {} })));
    for (const job of jobs) ids.push(job.id!);
  }
  return ids;
}

/** Jobs in the completed set whose hash holds a `returnvalue` (untimed check). */
async function countStored(redis: Redis, queue: Queue, ids: readonly string[]): Promise<number> {
  let stored = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(i, i + 1000)) pipeline.zscore(queue.keys.completed!, id).hexists(queue.toKey(id), 'returnvalue');
    const replies = (await pipeline.exec()) ?? [];
    for (let j = 0; j < replies.length; j += 2) if (replies[j]![1] !== null && replies[j + 1]![1] === 1) stored++;
  }
  return stored;
}
