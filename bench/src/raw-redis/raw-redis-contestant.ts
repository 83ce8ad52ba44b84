/**
 * The raw ioredis floor row, `raw-ioredis-redis`: how fast the Redis commands celeriac issues can
 * go with no framework at all, so that the gap between celeriac-redis and its peers splits into
 * what the protocol itself costs (this row) and what celeriac adds (celeriac-redis over this row).
 * The Redis group's counterpart of the AMQP group's raw-amqplib row.
 *
 * The producer (this process) sends the envelopes a celeriac client sends (raw-redis-wire.ts) with
 * the same commands: one LPUSH of `batch` envelopes per bulk call, one LPUSH per task for latency,
 * where the task carries the notify header and its result is awaited on the one subscribed notify
 * channel (`celeriac-notify-<uuid>`), its pushed meta JSON-parsed. The worker
 * (raw-redis-worker-child.ts) takes, stores and acknowledges with celeriac's own Lua scripts.
 *
 * - done: the last task's result key exists (EXISTS every 5 ms). One worker takes in send order
 *   and stores each batch in one script, batch after batch, so the last key is the last written;
 *   the untimed check below would report any task missed;
 * - verified: every `celery-task-meta-<id>` read back (MGET) says SUCCESS.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { BulkFigures, Contestant, EndToEndFigures, LatencyFigures, ScenarioConfig } from '../contestant.js';
import { awaitCount, withEmptyDb, type RedisTarget } from '../redis-db.js';
import { timeRoundTrips } from '../timing.js';
import { spawnWorkerProcess, type SpawnOptions, type WorkerHandle } from '../worker-process.js';
import { envelopeMaker, META_PREFIX, QUEUE, type EnvelopeMaker } from './raw-redis-wire.js';

/** The floor's worker process: `argv: <host> <port> <db> <concurrency>`. */
export const RAW_REDIS_WORKER_SCRIPT = fileURLToPath(new URL('./raw-redis-worker-child.ts', import.meta.url));

export const RAW_REDIS_ROW = 'raw-ioredis-redis';

export function rawRedisContestant(target: RedisTarget, spawnOptions: SpawnOptions = {}): Contestant {
  /** Runs `fn` on the row's database, claimed empty, with a worker process connected but not consuming. */
  function scene<T>(config: ScenarioConfig, fn: (redis: Redis, worker: WorkerHandle) => Promise<T>): Promise<T> {
    return withEmptyDb(target, async (redis) => {
      const args = [target.host, String(target.port), String(target.db), String(config.concurrency)];
      const worker = await spawnWorkerProcess(RAW_REDIS_WORKER_SCRIPT, args, spawnOptions);
      try {
        return await fn(redis, worker);
      } finally {
        await worker.stop().catch(() => undefined);
      }
    });
  }

  return {
    name: RAW_REDIS_ROW,
    traits: {
      store: `Redis (db ${target.db}): celeriac's keys, envelopes, waits (BLMOVE into a landing list), Lua scripts (TAKE, ACK) and first result writes (SET NX + PUBLISH) on ioredis, no framework`,
      resultsStored: 'yes, as celeriac-redis (celery-task-meta-<id>, extended metadata, kept a day; latency: pushed on the notify channel)',
      durability: target.durability,
      acks: 'early (as celeriac-redis: one ACK per batch, or an LREM for a landed message, in the write that stores its results)',
      worker:
        'separate process, one connection, takes of half of 4 × concurrency; a floor: no retries, reconnection, validation or dead-lettering; ' +
        'envelopes cut from one made by celeriac\'s encoders at start-up (new ids per task, no per-task encoding)',
    },

    bulk: (config) =>
      scene(config, async (redis, worker): Promise<BulkFigures> => {
        const ids = taskIds(config.tasks);
        const enqueueStart = performance.now();
        await sendAll(redis, envelopeMaker(null), ids, config.batch);
        const enqueueMs = performance.now() - enqueueStart;
        const queued = await redis.llen(QUEUE);

        const processStart = performance.now();
        await worker.start();
        await awaitStored(redis, ids);
        const processMs = performance.now() - processStart;

        const counts = await worker.stop();
        const verified = await countSucceeded(redis, ids);
        return { tasks: ids.length, enqueueMs, queued, processMs, verified, workerSucceeded: counts.succeeded, workerCpuMs: counts.cpuMs };
      }),

    endToEnd: (config) =>
      scene(config, async (redis, worker): Promise<EndToEndFigures> => {
        const ids = taskIds(config.tasks);
        const make = envelopeMaker(null);
        await worker.start(); // consuming an empty queue before the clock starts
        const start = performance.now();
        const done = awaitStored(redis, ids);
        done.catch(() => undefined); // awaited below; a send failure must not leave it unhandled
        await sendAll(redis, make, ids, config.batch);
        await done;
        const ms = performance.now() - start;

        const counts = await worker.stop();
        const verified = await countSucceeded(redis, ids);
        return { tasks: ids.length, ms, verified, workerSucceeded: counts.succeeded, workerCpuMs: counts.cpuMs };
      }),

    latency: (config) =>
      scene(config, async (redis, worker): Promise<LatencyFigures> => {
        const client = await floorRoundTrips(redis);
        try {
          await worker.start();
          return await timeRoundTrips(config, client.roundTrip, worker, target);
        } finally {
          client.close();
        }
      }),
  };
}

/**
 * The floor's producer side of a latency round trip: LPUSH one envelope that carries the notify
 * header, then await its meta on the one subscribed notify channel (a second connection).
 */
export async function floorRoundTrips(redis: Redis): Promise<{ roundTrip: () => Promise<void>; close: () => void }> {
  const subscriber = redis.duplicate();
  const channel = `celeriac-notify-${randomUUID()}`;
  await subscriber.subscribe(channel);
  const make = envelopeMaker(channel);
  let waiting: { id: string; resolve: () => void; reject: (err: Error) => void } | null = null;
  subscriber.on('message', (_channel: string, text: string) => {
    const meta = JSON.parse(text) as { task_id: string; status: string };
    if (waiting?.id !== meta.task_id) return;
    if (meta.status === 'SUCCESS') waiting.resolve();
    else waiting.reject(new Error(`task ${meta.task_id} ended in ${meta.status}`));
  });
  const roundTrip = async () => {
    const id = randomUUID();
    // Waiting before sending: the push can beat the LPUSH's reply (another connection).
    const pushed = new Promise<void>((resolve, reject) => (waiting = { id, resolve, reject }));
    await redis.lpush(QUEUE, make(id, randomUUID()));
    await pushed;
  };
  return { roundTrip, close: () => subscriber.disconnect() };
}

/** Ids made before the clock starts, as celeriac-redis's. */
function taskIds(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID());
}

/** One LPUSH of `batch` envelopes per call, one call after another (celeriac's `applyMany`). */
async function sendAll(redis: Redis, make: EnvelopeMaker, ids: readonly string[], batch: number): Promise<void> {
  for (let i = 0; i < ids.length; i += batch) {
    const envelopes = ids.slice(i, i + batch).map((id) => make(id, randomUUID()));
    await redis.lpush(QUEUE, ...envelopes);
  }
}

/** Resolves once the last id's result key exists (see the header: it is the last one written). */
function awaitStored(redis: Redis, ids: readonly string[]): Promise<void> {
  const last = META_PREFIX + ids[ids.length - 1]!;
  return awaitCount(() => redis.exists(last), 1);
}

/** How many of `ids` have a stored SUCCESS (MGET in chunks, after the clock stops). */
async function countSucceeded(redis: Redis, ids: readonly string[], chunk = 1000): Promise<number> {
  let succeeded = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const metas = await redis.mget(ids.slice(i, i + chunk).map((id) => META_PREFIX + id));
    for (const meta of metas) if (meta && (JSON.parse(meta) as { status?: string }).status === 'SUCCESS') succeeded++;
  }
  return succeeded;
}
