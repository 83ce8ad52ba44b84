/**
 * The worker of the raw ioredis floor row (raw-redis-contestant.ts), protocol ../worker-process.ts:
 * `argv: <host> <port> <db> <concurrency>`. One ioredis connection issuing the commands a celeriac
 * worker issues on Redis, with as little JavaScript as can do it:
 *
 *   waiting:  BLMOVE celery <landing list> RIGHT LEFT 0.2 + EXISTS <the queue's four lists>
 *   a batch:  EVALSHA TAKE                 (when something is queued: a burst, the bulk scenarios)
 *   ... decode each envelope and body, run nothing, build celeriac's extended result meta ...
 *   the acks (LREM from the landing list for a landed message, EVALSHA ACK for taken ones) +
 *   per result SET NX PX + PUBLISH + PUBLISH (celeriac's first writes) + the next wait or take
 *                                                                   (one corked write per batch)
 *
 * A take asks for celeriac's limit (raw-redis-wire.ts takeLimit); every message it brings is
 * handled, acknowledged in one call and their results stored. When a take came back full,
 * or a wait's EXISTS found more queued, the next step is a take; otherwise a wait. The landing
 * list is named in `celeriac.landings` and its alive key set once, at start (celeriac's consumer
 * writes them again every quarter of the key's life). What a floor leaves out: retries,
 * reconnection (the connection never reconnects), validation of messages or replies,
 * dead-lettering, renewing or restoring unacked messages, recording a landed message left
 * unsettled (never here: every message is settled in its turn), events, the queue's binding.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ACK, landingMember, TAKE } from '@celeriac/redis/lua-scripts';
import { Redis } from 'ioredis';
import { parseConcurrency, serveWorker } from '../worker-child-protocol.js';
import { ACK_KEYS, BLOCK_TIMEOUT_S, KEYS, META_PREFIX, QUEUE, QUEUE_LISTS, RESULT_TTL_MS, TAKE_KEYS, takeArgs, takeLimit } from './raw-redis-wire.js';

/** TAKE's reply: {order, taken = flat (queue index, step, tag, envelope), dead, acked}. */
type TakeReply = [unknown, (string | number)[], unknown, number];

/** What is read off an envelope: the least a worker needs. */
interface Envelope {
  readonly body: string;
  readonly headers: { readonly id: string; readonly task: string; readonly retries: number; readonly celeriac_notify?: unknown };
}

serveWorker(async ([host, port, db, concurrencyText], fail) => {
  if (!host || !port || !db) throw new Error('usage: raw-redis-worker-child.ts <host> <port> <db> <concurrency>');
  const limit = takeLimit(parseConcurrency(concurrencyText));
  const redis = new Redis({ host, port: Number(port), db: Number(db), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', fail);
  await redis.connect();
  for (const script of [TAKE, ACK]) await redis.script('LOAD', script.source);
  const worker = `celeriac@${hostname()}`;
  // Dead-letter ids of a take are `<instance>.<take>.<n>`, as celeriac's.
  const instance = randomUUID();
  let takes = 0;
  let succeeded = 0;
  let stopping = false;

  const landingKey = KEYS.landing(landingMember(instance, QUEUE));
  await redis.sadd(KEYS.landings, landingMember(instance, QUEUE));
  await redis.set(KEYS.alive(instance), '1', 'PX', 3_600_000);

  /** A batch: flat (queue index, step, tag, envelope); landed = from a wait; more = something is queued still. */
  interface Batch {
    readonly taken: (string | number)[];
    readonly landed: boolean;
    readonly more: boolean;
  }
  const take = (): Promise<Batch> =>
    (redis.evalsha(TAKE.sha, TAKE_KEYS.length, [...TAKE_KEYS, ...takeArgs(limit, `${instance}.${++takes}.`)]) as Promise<TakeReply>).then((reply) => ({
      taken: reply[1],
      landed: false,
      more: reply[1].length / 4 >= limit,
    }));
  const wait = (): Promise<Batch> => {
    const moved = redis.blmove(QUEUE, landingKey, 'RIGHT', 'LEFT', BLOCK_TIMEOUT_S) as Promise<string | null>;
    const queued = redis.exists(QUEUE_LISTS);
    return Promise.all([moved, queued]).then(([envelope, more]) => ({ taken: envelope === null ? [] : [1, 1, '', envelope], landed: true, more: more > 0 }));
  };

  /**
   * Acknowledges the batch's messages (ACK, or an LREM for a landed one), then stores and
   * publishes each result as celeriac stores a first result: SET NX with its time to live, PUBLISH
   * on the key's channel and on the notify channel (no script).
   */
  const settle = ({ taken, landed }: Batch): Promise<unknown> => {
    const n = taken.length / 4;
    const tags: string[] = [...ACK_KEYS];
    for (let i = 0; i < taken.length; i += 4) tags.push(String(taken[i + 2]));
    // The acks first, then the results, as celeriac's worker orders them.
    if (landed) redis.lrem(landingKey, 1, String(taken[3])).catch(fail);
    else redis.evalsha(ACK.sha, ACK_KEYS.length, tags).catch(fail);
    // Celeriac's date_done (naive UTC, microseconds), read once per batch.
    const dateDone = `${new Date().toISOString().slice(0, 23)}000`;
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < taken.length; i += 4) {
      const envelope = JSON.parse(String(taken[i + 3])) as Envelope;
      const [taskArgs, kwargs] = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) as [unknown, unknown];
      const h = envelope.headers;
      // (the task, a no-op, runs here)
      const meta = { status: 'SUCCESS', result: null, traceback: null, children: [], date_done: dateDone, name: h.task, args: taskArgs, kwargs, worker, retries: h.retries, queue: QUEUE, task_id: h.id };
      const key = META_PREFIX + h.id;
      const value = JSON.stringify(meta);
      redis.set(key, value, 'PX', RESULT_TTL_MS, 'NX').catch(fail);
      last = redis.publish(key, value);
      if (typeof h.celeriac_notify === 'string') last = redis.publish(h.celeriac_notify, value);
    }
    // Replies come in order: the last one says the batch is stored.
    return last.then(() => void (succeeded += n));
  };

  const run = async () => {
    let next = take();
    for (;;) {
      const batch = await next;
      if (batch.taken.length === 0) {
        if (stopping) return;
        next = batch.more ? take() : wait();
        continue;
      }
      if (stopping) return void (await settle(batch));
      // The results, the acks and the next step leave in one write.
      redis.stream.cork();
      settle(batch).catch(fail);
      next = batch.more ? take() : wait();
      redis.stream.uncork();
    }
  };

  let running: Promise<void> = Promise.resolve();
  return {
    start() {
      running = run();
      running.catch(fail);
    },
    async stop() {
      stopping = true;
      // The wait in flight ends within BLOCK_TIMEOUT_S; what it takes is still handled.
      await running;
      await redis.quit();
      return { succeeded };
    },
  };
});
