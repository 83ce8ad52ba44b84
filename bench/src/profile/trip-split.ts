/**
 * Where a latency round trip's wall time goes, split at the sockets: the producer's LPUSH leaves
 * (`sent`), the worker reads the message (`arrived`), the worker writes the result (`stored`), the
 * producer hears it (`heard`), and the producer's next LPUSH leaves. socket-stamps.ts notes those
 * moments in every process on the machine's clock.
 *
 *   npm run trip-split --workspace bench -- [--trips 1000] [--warmup 50] [--rounds 1] [--redis-db 15]
 *
 * Runs celeriac's producer and worker and the floor's (raw-redis: the same commands on ioredis,
 * no framework) in all four pairings, so each side's share shows on its own: with the floor's
 * worker, a difference between the producers is the producers'; with the floor's producer, the
 * workers'. Per pairing it prints the p50 round trip and the median of each segment over the
 * timed round trips (medians do not add up to the p50 exactly):
 *
 * - sent → arrived: Redis and two wake-ups (Redis's, the worker's);
 * - arrived → stored: the worker's own code, from the message's bytes to its result's write;
 * - stored → heard: Redis and two wake-ups (Redis's, the producer's);
 * - heard → next sent: the producer's own code, from the result's bytes to the next send.
 *
 * The Redis at 127.0.0.1:6379, on a database that must be empty (default 15). Celeriac's worker at
 * concurrency 100, as in the bench. A run of 1,000 round trips per pairing takes under a minute.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seen, type StampKind, type Stamps } from './socket-stamps.js';
import { median, segments, type Side, type Split } from './trip-segments.js';
import { createBenchApp } from '../celeriac/bench-app.js';
import { CELERIAC_WORKER_SCRIPT } from '../celeriac/worker-handle.js';
import { floorRoundTrips, RAW_REDIS_WORKER_SCRIPT } from '../raw-redis/raw-redis-contestant.js';
import { redisDbUrl, withEmptyDb, type RedisDb } from '../redis-db.js';
import { spawnWorkerProcess } from '../worker-process.js';

const STAMPS_SCRIPT = fileURLToPath(new URL('./socket-stamps.ts', import.meta.url));
const USAGE = 'usage: npm run trip-split --workspace bench -- [--trips N] [--warmup N] [--rounds N] [--redis-db N]';
const CONCURRENCY = 100;

const PAIRINGS: readonly (readonly [producer: Side, worker: Side])[] = [
  ['celeriac', 'celeriac'],
  ['celeriac', 'floor'],
  ['floor', 'celeriac'],
  ['floor', 'floor'],
];

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number, min: number) => {
  const i = argv.indexOf(`--${name}`);
  const value = i < 0 ? fallback : Number(argv[i + 1]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number of at least ${min}\n${USAGE}`);
  return value;
};
const known = new Set(['--trips', '--warmup', '--rounds', '--redis-db']);
for (let i = 0; i < argv.length; i += 2) if (!known.has(argv[i]!)) throw new Error(`unknown option ${argv[i]}\n${USAGE}`);
const trips = flag('trips', 1000, 10);
const warmup = flag('warmup', 50, 0);
const rounds = flag('rounds', 1, 1);
const target: RedisDb = { host: '127.0.0.1', port: 6379, db: flag('redis-db', 15, 0) };

const splits: Split[] = [];
for (let round = 0; round < rounds; round++) {
  for (const [producer, worker] of PAIRINGS) splits.push(await withEmptyDb(target, () => measure(producer, worker)));
}
print(splits);

/** Runs one pairing on the (empty) database and splits its timed round trips. */
async function measure(producer: Side, worker: Side): Promise<Split> {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-stamps-'));
  const url = redisDbUrl(target);
  // Read by the worker process's socket-stamps.ts (this process's copy read it at import, unset).
  process.env['CELERIAC_STAMPS_DIR'] = dir;
  try {
    const nodeFlags = ['--import', STAMPS_SCRIPT];
    const handle =
      worker === 'celeriac'
        ? await spawnWorkerProcess(CELERIAC_WORKER_SCRIPT, [url, String(CONCURRENCY)], { nodeFlags })
        : await spawnWorkerProcess(RAW_REDIS_WORKER_SCRIPT, [target.host, String(target.port), String(target.db), String(CONCURRENCY)], { nodeFlags });
    let samples: number[];
    let from: Record<StampKind, number>;
    try {
      const client = await producerOf(producer, url);
      try {
        await handle.start();
        for (let i = 0; i < warmup; i++) await client.roundTrip();
        from = counts(seen());
        samples = [];
        for (let i = 0; i < trips; i++) {
          const start = performance.now();
          await client.roundTrip();
          samples.push(performance.now() - start);
        }
      } finally {
        await client.close();
      }
    } finally {
      await handle.stop();
    }
    const mine = seen();
    const theirs = workerStamps(dir);
    return { producer, worker, trips, p50: median(samples) * 1000, ...segments(mine.sent.slice(from.sent), theirs, mine.heard.slice(from.heard)) };
  } finally {
    delete process.env['CELERIAC_STAMPS_DIR'];
    rmSync(dir, { recursive: true, force: true });
  }
}

async function producerOf(side: Side, url: string): Promise<{ roundTrip: () => Promise<void>; close: () => Promise<void> }> {
  if (side === 'celeriac') {
    const { app, noop } = createBenchApp(url);
    await app.connect();
    return {
      roundTrip: async () => {
        const result = await noop.delay();
        await result.get({ timeout: 30_000 });
      },
      close: () => app.close(),
    };
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis(url);
  const floor = await floorRoundTrips(redis);
  return {
    roundTrip: floor.roundTrip,
    close: async () => {
      floor.close();
      redis.disconnect();
    },
  };
}

function counts(stamps: Stamps): Record<StampKind, number> {
  return { sent: stamps.sent.length, arrived: stamps.arrived.length, stored: stamps.stored.length, heard: stamps.heard.length };
}

/** The stamps the worker process wrote as it exited. */
function workerStamps(dir: string): Stamps {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  if (files.length !== 1) throw new Error(`expected the worker's stamps in ${dir}, found ${files.length} files: did its sockets carry no message?`);
  return JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as Stamps;
}

function print(rows: readonly Split[]): void {
  const f = (us: number) => Math.round(us).toLocaleString('en-US');
  console.log(`Latency round trips split at the sockets (µs, medians over ${trips} round trips after ${warmup} warm-up; Redis db ${target.db}):\n`);
  console.log('| producer | worker | p50 round trip | sent → arrived (Redis, wake-ups) | arrived → stored (worker code) | stored → heard (Redis, wake-ups) | heard → next sent (producer code) |');
  console.log('|---|---|--:|--:|--:|--:|--:|');
  for (const r of rows) console.log(`| ${r.producer} | ${r.worker} | ${f(r.p50)} | ${f(r.toWorker)} | ${f(r.inWorker)} | ${f(r.toProducer)} | ${f(r.inProducer)} |`);
}
