/**
 * Every contestant the bench knows, in the order rows are printed. The Redis rows need a Redis
 * server, and the Python Celery row a Python with Celery: when one is missing, the rows that need
 * it are left out (and said so), unless they were asked for by name, which is an error.
 * A peer is added here: see README.md, "Adding a contestant".
 */
import { execFileSync } from 'node:child_process';
import { beeQueueContestant } from './bee-queue/bee-queue-contestant.js';
import { bullmqContestant } from './bullmq/bullmq-contestant.js';
import { celeriacContestant } from './celeriac/celeriac-contestant.js';
import { memoryStore, sqliteStore } from './celeriac/celeriac-stores.js';
import { redisStore } from './celeriac-redis/celeriac-redis-store.js';
import { celeryContestant } from './celery-py/celery-contestant.js';
import { RAW_REDIS_ROW, rawRedisContestant } from './raw-redis/raw-redis-contestant.js';
import type { Contestant } from './contestant.js';
import { AMQP_ROW_NAMES } from './amqp/amqp-row.js';
import { CHORD_ROW_NAMES } from './chord/chord-row.js';
import { describeDurability, keysIn, probeRedis, type RedisInfo, type RedisServer, type RedisTarget } from './redis-db.js';

export const CONTESTANT_NAMES = ['celeriac-sqlite', 'celeriac-memory', 'celeriac-redis', 'bullmq-redis', 'bee-queue-redis', 'celery-py-redis', 'raw-ioredis-redis'] as const;

export interface ContestantOptions {
  readonly cpuProfileDir: string | null;
  readonly redis: RedisServer;
  readonly redisDb: number;
  /** The floor row's database (options.ts `redisFloorDb`). */
  readonly redisFloorDb: number;
  readonly python: string;
}

export interface Lineup {
  /** The contestants that can run here, in print order. */
  readonly contestants: readonly Contestant[];
  /** Those that cannot, and why. */
  readonly unavailable: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
  /** The Redis server the Redis rows run on, when reachable. */
  readonly redis: RedisInfo | null;
}

export async function allContestants(options: ContestantOptions): Promise<Lineup> {
  const profile = options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {};
  const contestants: Contestant[] = [celeriacContestant(sqliteStore(profile)), celeriacContestant(memoryStore())];
  const unavailable: { name: string; reason: string }[] = [];
  const redis = await probeRedis(options.redis);
  if ('error' in redis) {
    for (const name of CONTESTANT_NAMES.filter((n) => n.endsWith('-redis'))) unavailable.push({ name, reason: redis.error });
    return { contestants, unavailable, redis: null };
  }
  const durability = describeDurability(redis);
  const db = (i: number): RedisTarget => ({ ...options.redis, db: options.redisDb + i, durability });
  contestants.push(celeriacContestant(redisStore(db(0), profile)), bullmqContestant(db(1), profile), beeQueueContestant(db(2), profile));
  const celery = celeryVersion(options.python);
  if ('error' in celery) unavailable.push({ name: 'celery-py-redis', reason: celery.error });
  else contestants.push(celeryContestant(db(3), { python: options.python, version: celery.version }));
  // The floor row's database is by default people's scratch one: in use, the row is left out.
  const floor: RedisTarget = { ...options.redis, db: options.redisFloorDb, durability };
  const floorKeys = await keysIn(floor);
  if (floorKeys > 0) unavailable.push({ name: RAW_REDIS_ROW, reason: `Redis db ${floor.db} holds ${floorKeys} keys (by default people's scratch db); empty it or pick another with --redis-floor-db` });
  else contestants.push(rawRedisContestant(floor, profile));
  return { contestants, unavailable, redis };
}

/** The contestants named in `only` (all available when null), or an error naming the problem. */
export function selectContestants(lineup: Lineup, only: readonly string[] | null): Contestant[] {
  if (!only) return [...lineup.contestants];
  const groups: readonly string[] = [...AMQP_ROW_NAMES, ...CHORD_ROW_NAMES];
  const known: readonly string[] = [...CONTESTANT_NAMES, ...groups];
  const unknown = only.filter((name) => !known.includes(name));
  if (unknown.length) throw new Error(`unknown contestant(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  // The AMQP and chord groups' rows are run by their groups (main.ts).
  return only.filter((name) => !groups.includes(name)).map((name) => {
    const found = lineup.contestants.find((c) => c.name === name);
    if (found) return found;
    const reason = lineup.unavailable.find((u) => u.name === name)?.reason ?? 'not available';
    throw new Error(`${name} cannot run here: ${reason}`);
  });
}

/** What celeryVersion() found, by interpreter and module: each group asks, Python is started once. */
const celeryVersions = new Map<string, { version: string } | { error: string }>();

/**
 * Celery's version under `python`, or why Celery and the transport's client (`redis`: redis-py,
 * `amqp`: py-amqp) cannot be imported there.
 */
export function celeryVersion(python: string, module: 'redis' | 'amqp' = 'redis'): { version: string } | { error: string } {
  const key = `${python}\0${module}`;
  let found = celeryVersions.get(key);
  if (found) return found;
  try {
    const out = execFileSync(python, ['-c', `import celery, ${module}; print(celery.__version__)`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    found = { version: out.trim() };
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim().split('\n').pop() ?? String(err);
    found = { error: `${python} cannot import celery and ${module} (${detail}); on Debian: apt-get install python3-celery python3-${module}` };
  }
  celeryVersions.set(key, found);
  return found;
}
