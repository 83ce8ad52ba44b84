/**
 * bee-queue on Redis as a contestant. Each scenario gets its own empty database (redis-db.ts), a
 * producer `Queue` in this process (`isWorker: false`) and a worker `Queue` in a child process
 * (bee-queue-worker-child.ts).
 *
 * - enqueue: `saveAll` of `config.batch` jobs made with `createJob`, one call after another;
 * - done: the `succeeded` set holds N (SCARD every 5 ms);
 * - verified: each job is in the `succeeded` set and its stored record says `succeeded`. bee-queue
 *   keeps the job (`removeOnSuccess: false`) but not the handler's return value, which it only
 *   publishes with the success event; the task returns nothing, so nothing is lost here;
 * - latency: `createJob().save()` then the job's success event (producer with `getEvents`).
 */
import { fileURLToPath } from 'node:url';
import BeeQueue from 'bee-queue';
import type { Redis } from 'ioredis';
import type { BulkFigures, Contestant, EndToEndFigures, LatencyFigures, ScenarioConfig } from '../contestant.js';
import { awaitCount, withEmptyDb, type RedisTarget } from '../redis-db.js';
import { timeEndToEnd, timeRoundTrips } from '../timing.js';
import { spawnWorkerProcess, type SpawnOptions, type WorkerHandle } from '../worker-process.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./bee-queue-worker-child.ts', import.meta.url));

/** bee-queue's default key prefix; a queue's keys are `bq:<queue name>:<what>`. */
const PREFIX = 'bq';

interface Scene {
  readonly queue: BeeQueue;
  /** `bq:<queue name>:` */
  readonly keys: string;
  readonly worker: WorkerHandle;
  readonly redis: Redis;
}

export function beeQueueContestant(target: RedisTarget, spawnOptions: SpawnOptions = {}): Contestant {
  /** `events`: the producer subscribes to job events (only the latency scenario waits on them). */
  async function scene<T>(config: ScenarioConfig, events: boolean, fn: (scene: Scene) => Promise<T>): Promise<T> {
    return withEmptyDb(target, async (redis) => {
      const name = `bench-${process.pid}-${Date.now()}`;
      const redisOptions = { host: target.host, port: target.port, db: target.db };
      const queue = new BeeQueue(name, { redis: redisOptions, prefix: PREFIX, isWorker: false, getEvents: events, storeJobs: false, removeOnSuccess: false });
      let worker: WorkerHandle | null = null;
      try {
        await queue.ready();
        const args = [target.host, String(target.port), String(target.db), name, String(config.concurrency)];
        worker = await spawnWorkerProcess(CHILD_SCRIPT, args, spawnOptions);
        return await fn({ queue, keys: `${PREFIX}:${name}:`, worker, redis });
      } finally {
        await worker?.stop().catch(() => undefined);
        await queue.close();
      }
    });
  }

  return {
    name: 'bee-queue-redis',
    traits: {
      store: `bee-queue on Redis (db ${target.db})`,
      resultsStored: 'job kept with status "succeeded" (removeOnSuccess: false); return value only published, not stored',
      durability: target.durability,
      acks: 'late-equivalent (job held in the active list until it finishes)',
      worker: 'separate process',
    },

    bulk: (config) =>
      scene(config, false, async ({ queue, keys, worker, redis }): Promise<BulkFigures> => {
        const enqueueStart = performance.now();
        const ids = await saveAll(queue, config);
        const enqueueMs = performance.now() - enqueueStart;
        const queued = (await queue.checkHealth()).waiting;

        const processStart = performance.now();
        await worker.start();
        await awaitCount(() => redis.scard(`${keys}succeeded`), ids.length);
        const processMs = performance.now() - processStart;

        const counts = await worker.stop();
        const verified = await countSucceeded(redis, keys, ids);
        return { tasks: ids.length, enqueueMs, queued, processMs, verified, workerSucceeded: counts.succeeded, workerCpuMs: counts.cpuMs };
      }),

    endToEnd: (config) =>
      scene(config, false, async ({ queue, keys, worker, redis }): Promise<EndToEndFigures> => {
        const run = await timeEndToEnd(config, worker, () => redis.scard(`${keys}succeeded`), () => saveAll(queue, config));
        const verified = await countSucceeded(redis, keys, run.ids);
        return { tasks: run.ids.length, ms: run.ms, verified, workerSucceeded: run.succeeded, workerCpuMs: run.cpuMs };
      }),

    latency: (config) =>
      scene(config, true, async ({ queue, worker }): Promise<LatencyFigures> => {
        await worker.start();
        // Matched by id on the queue's "job succeeded" event, not with `job.on('succeeded')`: the
        // event comes on the subscriber connection and can beat the reply to `save()`, before
        // bee-queue has put the job in the map its per-job events go through (the round trip
        // then never ends).
        const early = new Set<string>();
        let waiting: { id: string; resolve: () => void } | null = null;
        queue.on('job succeeded', (id: string) => {
          if (waiting?.id === id) waiting.resolve();
          else early.add(id);
        });
        queue.on('job failed', (id: string, err: Error) => void console.error(`bee-queue job ${id} failed: ${err.message}`));
        const roundTrip = async () => {
          const job = await queue.createJob({}).save();
          if (early.delete(job.id)) return;
          await new Promise<void>((resolve) => (waiting = { id: job.id, resolve }));
          waiting = null;
        };
        return timeRoundTrips(config, roundTrip, worker, target);
      }),
  };
}

/** Saves `config.tasks` jobs, `config.batch` per `saveAll`, one call after another; their ids. */
async function saveAll(queue: BeeQueue, config: ScenarioConfig): Promise<string[]> {
  const ids: string[] = [];
  for (let sent = 0; sent < config.tasks; sent += config.batch) {
    const jobs = Array.from({ length: Math.min(config.batch, config.tasks - sent) }, () => queue.createJob({}));
    const errors = await queue.saveAll(jobs);
    if (errors.size > 0) throw new Error(`bee-queue saveAll: ${errors.size} jobs not saved, first: ${String([...errors.values()][0])}`);
    for (const job of jobs) ids.push(job.id);
  }
  return ids;
}

/** Jobs in the `succeeded` set whose stored record says `succeeded` (untimed check). */
async function countSucceeded(redis: Redis, keys: string, ids: readonly string[]): Promise<number> {
  let succeeded = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const members = await redis.smismember(`${keys}succeeded`, ...chunk);
    const records = await redis.hmget(`${keys}jobs`, ...chunk);
    for (let j = 0; j < chunk.length; j++) {
      const status = records[j] ? (JSON.parse(records[j]!) as { status?: string }).status : undefined;
      if (members[j] === 1 && status === 'succeeded') succeeded++;
    }
  }
  return succeeded;
}
