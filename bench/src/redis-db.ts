/**
 * The Redis the Redis rows share: one server (the bench never changes its configuration), and one
 * database number per contestant, used by nothing else. A scenario first checks that its database
 * is empty and refuses to run otherwise; because it then holds everything in it, it removes what
 * it wrote with FLUSHDB afterwards. An interrupted run can leave keys behind: the next run says
 * which database, and the user decides whether to empty it.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
}

/** One contestant's database on the shared server. */
export interface RedisDb extends RedisServer {
  readonly db: number;
}

/** A Redis row's database, with what the server's settings make of durability (for its traits). */
export interface RedisTarget extends RedisDb {
  readonly durability: string;
}

/** What the records say about the server, so durability can be judged. */
export interface RedisInfo {
  readonly version: string;
  /** `CONFIG GET appendonly` and `save`: what survives a crash of the server. */
  readonly appendonly: string;
  readonly save: string;
}

/** The Redis rows' durability, from the server's settings (which the bench leaves as they are). */
export function describeDurability(info: RedisInfo): string {
  const aof = info.appendonly === 'yes' ? 'AOF on' : 'AOF off';
  const rdb = info.save.trim() ? `RDB save "${info.save}"` : 'no RDB snapshots';
  const none = info.appendonly !== 'yes' && !info.save.trim() ? ': a Redis restart loses everything' : '';
  return `Redis as configured (${aof}, ${rdb})${none}`;
}

/** `redis://host:port` (no path) → host and port. */
export function parseRedisServer(url: string): RedisServer {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' || (parsed.pathname !== '' && parsed.pathname !== '/')) {
    throw new Error(`--redis (BENCH_REDIS_URL) must look like redis://127.0.0.1:6379 (no db, the bench picks them), got ${JSON.stringify(url)}`);
  }
  return { host: parsed.hostname || '127.0.0.1', port: parsed.port ? Number(parsed.port) : 6379 };
}

export function redisDbUrl({ host, port, db }: RedisDb): string {
  return `redis://${host}:${port}/${db}`;
}

function client(target: RedisServer & { db?: number }): Redis {
  return new Redis({ host: target.host, port: target.port, db: target.db ?? 0, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

/** The server's version and persistence settings, or the reason it cannot be reached. */
export async function probeRedis(server: RedisServer): Promise<RedisInfo | { error: string }> {
  const redis = client(server);
  // The socket's error says more than the rejected command ("Connection is closed").
  let socketError: Error | null = null;
  redis.on('error', (err: Error) => void (socketError ??= err));
  try {
    await redis.connect();
    const info = await redis.info('server');
    const config = async (name: string) => ((await redis.config('GET', name)) as string[])[1] ?? '?';
    return { version: /redis_version:(\S+)/.exec(info)?.[1] ?? '?', appendonly: await config('appendonly'), save: await config('save') };
  } catch (err) {
    const cause = socketError ?? err;
    return { error: `Redis at ${server.host}:${server.port} is not reachable (${cause instanceof Error ? cause.message : String(cause)})` };
  } finally {
    redis.disconnect();
  }
}

const serverPids = new Map<string, Promise<number | null>>();

/**
 * The process id of the Redis server at `server` when it runs on this machine (its `process_id`
 * names a `redis-server` process listening on that port here), else null. For watching its CPU
 * (cpu-per-trip.ts); asked once per server.
 */
export function localServerPid(server: RedisServer): Promise<number | null> {
  const key = `${server.host}:${server.port}`;
  let pid = serverPids.get(key);
  if (!pid) {
    serverPids.set(key, (pid = findLocalServerPid(server)));
    // Not found (or not reachable just now): asked again next time.
    void pid.then((found) => found === null && serverPids.delete(key));
  }
  return pid;
}

async function findLocalServerPid(server: RedisServer): Promise<number | null> {
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(server.host)) return null;
  const redis = client(server);
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    // The same pid in this machine's /proc must be that server (not a process of another
    // container that happens to share the number): redis-server, its title naming that port.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return /redis-server/.test(cmdline) && new RegExp(`:${server.port}(\\s|$)`).test(cmdline) ? pid : null;
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

/** How many keys `target` holds now (DBSIZE): for leaving out a row whose database is in use. */
export async function keysIn(target: RedisDb): Promise<number> {
  const redis = client(target);
  try {
    await redis.connect();
    return await redis.dbsize();
  } finally {
    redis.disconnect();
  }
}

/** A database checked empty and now the caller's: a client on it, and how to give it back. */
export interface ClaimedDb {
  readonly redis: Redis;
  /** Empties the database (FLUSHDB: the claim found it empty, so all in it is ours) and disconnects. */
  release(): Promise<void>;
}

/** Claims `target`: fails, naming the database, unless it holds no keys. */
export async function claimEmptyDb(target: RedisDb): Promise<ClaimedDb> {
  const redis = client(target);
  try {
    await redis.connect();
    const keys = await redis.dbsize();
    if (keys !== 0) {
      throw new Error(
        `Redis db ${target.db} on ${target.host}:${target.port} holds ${keys} keys; the bench needs it empty and to itself. ` +
          `If an interrupted bench left them, empty it (redis-cli -n ${target.db} flushdb); otherwise pick other databases with --redis-db.`,
      );
    }
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  let released: Promise<void> | null = null;
  const release = () =>
    (released ??= (async () => {
      try {
        await redis.flushdb();
      } finally {
        redis.disconnect();
      }
    })());
  return { redis, release };
}

/** Runs `fn` on `target` once claimed (see claimEmptyDb), and releases it afterwards. */
export async function withEmptyDb<T>(target: RedisDb, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const { redis, release } = await claimEmptyDb(target);
  try {
    return await fn(redis);
  } finally {
    await release();
  }
}

/** Resolves once `count()` reaches `n`, reading it every `intervalMs`; rejects after `timeoutMs`. */
export async function awaitCount(count: () => Promise<number>, n: number, intervalMs = 5, timeoutMs = 600_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = await count();
    if (seen >= n) return;
    if (performance.now() > deadline) throw new Error(`gave up waiting: ${seen} of ${n} done after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
