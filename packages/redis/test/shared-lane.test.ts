/**
 * The shared lane (shared-lane.ts): when the result backend and the broker of one process use the
 * same Redis server and database, a worker's result writes ride in the broker's take pipeline, on
 * the broker's connection, instead of going on the backend's own command connection.
 *
 * Seen from Redis (MONITOR of this file's own databases, 6 and 7, see own-db-fixture.ts), with a
 * real core Worker:
 * - one URL for broker and backend, prefetch 4: 300 no-op tasks all end SUCCESS, and every store
 *   call (the script STORE_AND_PUBLISH_MANY, or a first write's SET NX) came from a connection
 *   that also sent the broker's take
 *   (BLMOVE or the take script), together naming every task's result key. The backend's own
 *   connection never sends a take, so a write that went there fails the check;
 * - backend on another database (no lane): the results are stored, in the backend's database, and
 *   no store call came from a taking connection (the check above is not vacuous);
 * - the connection carrying a take drops while a result write rides in it: on a redis-server of
 *   our own (CLIENT PAUSE would stall the shared one), a synchronous task sends CLIENT PAUSE WRITE,
 *   so the server holds the take that carries its result (nothing held on the backend's own
 *   connection, nothing stored yet); the broker's connections are killed right then (CLIENT KILL
 *   ID, chosen by their names) and the pause lifted. The result is then stored by a connection
 *   other than the killed ones (sent again), and every task ends SUCCESS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, silentLogger } from '@celeriac/core';
import { eventually } from '@celeriac/testing';
import type { Redis } from 'ioredis';
import { TAKE } from '../src/broker-scripts.js';
import { STORE_AND_PUBLISH_MANY } from '../src/result-scripts.js';
import { redisSkipReason, startScratchRedis } from './backend-fixture.js';
import { clientsOn, dbClient, dbUrl, flushOwnDb, monitorDbs, settle, withWorker, type MonitorLine } from './own-db-fixture.js';

const skip = await redisSkipReason();
/** Broker (and, in the first test, backend) here; the backend of the second test in BACKEND_DB. */
const DB = 7;
const BACKEND_DB = 6;
const TASKS = 300;
const WAIT = 30_000;

const isScript = (l: MonitorLine, sha: string) => l.args[0]?.toLowerCase() === 'evalsha' && l.args[1] === sha;
/** A result stored without the script (a task's first state): SET <result key> <value> PX <ttl> NX. */
const isFirstWrite = (l: MonitorLine) => l.args[0]?.toLowerCase() === 'set' && l.args[1]?.startsWith('celery-task-meta-') === true && l.args.at(-1) === 'NX';
const isStore = (l: MonitorLine) => isScript(l, STORE_AND_PUBLISH_MANY.sha) || isFirstWrite(l);
const isTake = (l: MonitorLine) => l.args[0]?.toLowerCase() === 'blmove' || isScript(l, TAKE.sha);
/** The keys a store call names: evalsha sha numkeys key..., or the SET's key. */
const storedKeys = (l: MonitorLine) => (isFirstWrite(l) ? [l.args[1]!] : l.args.slice(3, 3 + Number(l.args[2])));
const resultKey = (id: string) => `celery-task-meta-${id}`;

/**
 * Loads the store script on `client`'s server. On a server that never ran it, the first boarded
 * call fails with NOSCRIPT and goes again on the backend's own connection (EVAL), by design: the
 * rides checked here are those of a server that knows the script.
 */
async function loadStoreScript(client: Redis): Promise<void> {
  assert.equal(await client.script('LOAD', STORE_AND_PUBLISH_MANY.source), STORE_AND_PUBLISH_MANY.sha);
}

/** Sends `TASKS` calls of `lane.noop(i)` and waits until every result is SUCCESS with i. */
async function runNoops(app: App): Promise<string[]> {
  const noop = app.task('lane.noop', (_ctx, i: number) => i);
  const sent = await noop.applyMany(Array.from({ length: TASKS }, (_, i) => ({ args: [i] as [number] })));
  const ids = sent.map((r) => r.id);
  const backend = app.backend!;
  await eventually(async () => (await backend.getMany(ids)).every((m) => m?.status === 'SUCCESS'), WAIT, `${TASKS} results to be SUCCESS`);
  const metas = await backend.getMany(ids);
  metas.forEach((m, i) => assert.equal(m?.result, i, `the result of task ${i}`));
  return ids;
}

describe('redis shared lane: result writes ride in the broker\'s take', { skip, timeout: 120_000 }, () => {
  let raw: Redis;
  let rawBackend: Redis;
  before(async () => {
    raw = dbClient(DB);
    rawBackend = dbClient(BACKEND_DB);
    await flushOwnDb(raw, DB);
    await flushOwnDb(rawBackend, BACKEND_DB);
    await loadStoreScript(raw);
  });
  after(async () => {
    await flushOwnDb(raw, DB);
    await flushOwnDb(rawBackend, BACKEND_DB);
    raw.disconnect();
    rawBackend.disconnect();
  });

  it(`one URL: ${TASKS} no-op tasks end SUCCESS and every store call rode in a take`, async () => {
    const monitor = await monitorDbs([DB]);
    try {
      const app = new App({ broker: dbUrl(DB), backend: dbUrl(DB), logger: silentLogger });
      // Prefetch 4: one take at a time, sent at the end of the turn, which is when results ride.
      // (With a prefetch of 8 or more a full batch sends the next take before it runs; that
      // batch's results then go on their own, one write per half-prefetch batch.)
      const ids = await withWorker(app, { concurrency: 1, prefetchMultiplier: 4 }, () => runNoops(app));
      await settle();
      const takers = new Set(monitor.lines.filter(isTake).map((l) => l.source));
      const stores = monitor.lines.filter(isStore);
      assert.ok(takers.size > 0, 'MONITOR saw the broker\'s takes');
      assert.ok(stores.length > 0, 'MONITOR saw the store calls');
      const strays = stores.filter((l) => !takers.has(l.source));
      assert.deepEqual(strays.map((l) => `${l.source} (${l.args[2]} keys)`), [], `store calls from a connection that never took (takers: ${[...takers].join(', ')})`);
      const keys = new Set(stores.flatMap(storedKeys));
      assert.deepEqual(ids.filter((id) => !keys.has(resultKey(id))), [], 'every result went in one of those store calls');
    } finally {
      monitor.stop();
    }
  });

  it('backend on another database (no lane): results are stored there, on the backend\'s own connection', async () => {
    const monitor = await monitorDbs([DB, BACKEND_DB]);
    try {
      const app = new App({ broker: dbUrl(DB), backend: dbUrl(BACKEND_DB), logger: silentLogger });
      const ids = await withWorker(app, {}, () => runNoops(app));
      // In the backend's database, not the broker's.
      const stored = await rawBackend.mget(ids.map(resultKey));
      stored.forEach((text, i) => assert.equal((JSON.parse(text ?? 'null') as { status?: string } | null)?.status, 'SUCCESS', `task ${i} in db ${BACKEND_DB}`));
      assert.equal(await raw.exists(...ids.map(resultKey)), 0, `no result in the broker's db ${DB}`);
      await settle();
      const takers = new Set(monitor.lines.filter(isTake).map((l) => l.source));
      const stores = monitor.lines.filter(isStore);
      assert.ok(takers.size > 0 && stores.length > 0, 'MONITOR saw takes and store calls');
      assert.deepEqual(stores.filter((l) => l.db !== BACKEND_DB || takers.has(l.source)).map((l) => `[${l.db} ${l.source}]`), [], 'a store call rode in a take');
    } finally {
      monitor.stop();
    }
  });

  it('a take dropped while a result rides in it: the write is sent again and every task ends SUCCESS', async (t) => {
    const scratch = await startScratchRedis();
    if (typeof scratch === 'string') return t.skip(scratch);
    const admin = dbClient(0, scratch.url);
    const monitor = await monitorDbs([0], scratch.url);
    try {
      await loadStoreScript(admin); // also connects it: the task's CLIENT PAUSE must go out at once
      const app = new App({ broker: scratch.url, backend: scratch.url, logger: silentLogger });
      let pause: Promise<unknown> | null = null;
      // Synchronous, so this task's result rides in the take the end of this turn sends; the server
      // holds that take (EVALSHA is a write) if it gets there after CLIENT PAUSE. Two connections'
      // writes of one turn may reach Redis in either order: the thread waits a moment (the PAUSE is
      // written already) so that Redis takes the PAUSE first.
      const pausing = app.task('lane.pause', () => {
        pause = admin.call('CLIENT', 'PAUSE', '20000', 'WRITE');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        return 'paused';
      });
      const noop = app.task('lane.noop', (_ctx, i: number) => i);
      await withWorker(app, { concurrency: 1, prefetchMultiplier: 1 }, async () => {
        const [first, ...rest] = await app.sendTasks([
          { name: pausing.name },
          ...Array.from({ length: 5 }, (_, i) => ({ name: noop.name, options: { args: [i] } })),
        ]);
        await eventually(() => pause !== null, WAIT, 'the pausing task to run');
        await pause;
        const clients = () => clientsOn(admin, 0);
        await eventually(async () => (await clients()).some((c) => c.name === 'celeriac-broker-commands' && c.flags.includes('b')), WAIT, 'the broker\'s take to be held');
        // Where the result write is: not held on the backend's own connection, not stored yet.
        assert.deepEqual((await clients()).filter((c) => c.name === '' && c.flags.includes('b')).map((c) => c.cmd), [], 'a command held on the backend\'s connection');
        assert.equal(await admin.get(resultKey(first!.id)), null, 'the paused task\'s result is not stored yet');
        const killed = (await clients()).filter((c) => c.name.startsWith('celeriac-broker-'));
        for (const c of killed) await admin.client('KILL', 'ID', c.id);
        await admin.call('CLIENT', 'UNPAUSE');

        assert.equal(await first!.get({ timeout: WAIT }), 'paused');
        for (const [i, r] of rest.entries()) assert.equal(await r.get({ timeout: WAIT }), i);
        await settle();
        const gone = new Set(killed.map((c) => c.addr));
        const takers = new Set(monitor.lines.filter(isTake).map((l) => l.source));
        const stores = monitor.lines.filter((l) => isStore(l) && storedKeys(l).includes(resultKey(first!.id)));
        assert.ok(stores.length > 0, 'MONITOR saw the paused task\'s result stored');
        // Sent again: a killed connection never ran it (it was held there). Today ioredis resends
        // the unanswered take pipeline on the broker's new connection ("takes"); the rider's own
        // resend, on the backend's connection, would do as well.
        const where = stores.map((l) => `${l.source}${gone.has(l.source) ? ' (killed)' : ''}${takers.has(l.source) ? ' (takes)' : ''}`);
        assert.ok(stores.every((l) => !gone.has(l.source)), `stored by: ${where.join(', ')}`);
      });
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      monitor.stop();
      admin.disconnect();
      await scratch.stop();
    }
  });
});
