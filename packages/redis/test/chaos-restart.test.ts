/**
 * Nothing lost when Redis restarts in the middle of 10,000 tasks: a throwaway redis-server (AOF,
 * fsync always, so every acknowledged write survives) is stopped with `redis-cli shutdown` and
 * started again on the same port and directory while a real `celeriac worker` child process runs
 * tasks and a producer in this process sends them. Neither is told about the restart: the worker
 * reconnects by itself (it must not exit), and every one of the 10,000 ids ends SUCCESS.
 *
 * What the producer does: it sends the tasks in batches of 500 (`sendTasks`, one pipeline per
 * batch), each task with an id fixed up front, and keeps at most ~2,000 sent-but-unprocessed tasks
 * ahead of the worker so that sending spans the restart; while Redis is down it stops pacing, so
 * at least one batch is sent during the outage (it waits for the connection, or fails). A batch that fails with
 * CELERIAC_E_UNAVAILABLE ("not published", or "may or may not have been published") is sent again
 * with the same task ids (at-least-once; a task sent twice has one result). Any other error fails
 * the test. A publish that resolves is trusted: if the broker had silently dropped one, its id
 * would never get a result.
 *
 * Redis stays down for 500 ms, or CHAOS_OUTAGE_MS: with 15000 the test currently fails, because
 * the result backend's client gives up on a write after ioredis' default 20 reconnection attempts
 * (about 10 s) and the worker acknowledges the task anyway, so its SUCCESS is lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { App, type Logger } from '@celeriac/core';
import { persistentRedis, rawClient, type PersistentRedis } from './broker-fixture.js';
import { killStartedWorkers, PacedProducer, stopWorker, waitAllSucceeded, WorkerProcess } from './chaos-fixture.js';

const started = await persistentRedis();
const skip = typeof started === 'string' ? started : false;

const TOTAL = 10_000;
const BATCH = 500;
const RESTART_AFTER = 3_000;
/** Most tasks sent but not yet processed, so the producer is still sending when Redis restarts. */
const AHEAD = 2_000;
const OUTAGE_MS = Number(process.env['CHAOS_OUTAGE_MS'] ?? 500);
const QUEUE = 'chaos-restart';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos: Redis restarts in the middle of 10,000 tasks', { skip }, () => {
  const server: PersistentRedis | null = typeof started === 'string' ? null : started;
  // The throwaway server is this test's alone; the prefix only keeps its keys recognisable.
  const url = `${server?.url}?visibility_timeout=5&key_prefix=chaos-restart:`;
  const warnings: string[] = [];
  const keep = (level: string) => (message: string) => void warnings.push(`${level} ${message}`);
  const logger: Logger = { debug() {}, info() {}, warn: keep('warn'), error: keep('error') };
  const producer = skip ? null : new App({ broker: url, backend: url, logger });

  after(async () => {
    await killStartedWorkers();
    await producer?.close();
    await server?.destroy();
  });

  it('worker and producer carry on by themselves and every task ends SUCCESS', async (t) => {
    const app = producer!;
    const redisServer = server!;
    const worker = new WorkerProcess(['-Q', QUEUE, '-c', '20', '-n', 'chaos-restart@%h', '-l', 'info', '--progress-interval', '0.2'], {
      CELERIAC_BROKER_URL: url,
      CELERIAC_RESULT_BACKEND: url,
    });
    await worker.waitForLine(/worker chaos-restart@\S+ ready/, 30_000);

    const ids = Array.from({ length: TOTAL }, () => randomUUID());
    let redisDown = false;
    const sender = new PacedProducer(app, worker, ids, { queue: QUEUE, batch: BATCH, ahead: AHEAD, paused: () => redisDown, diagnostic: (line) => t.diagnostic(line) });
    const producing = sender.done;

    await Promise.race([worker.waitProcessed(RESTART_AFTER, 60_000), producing.then(() => worker.waitProcessed(RESTART_AFTER, 60_000))]);
    const processedAtRestart = worker.processed;
    const sentAtRestart = sender.sent;
    await redisServer.shutdown();
    redisDown = true;
    await sleep(OUTAGE_MS);
    // Either the batch in flight when Redis stopped or the next one (sent while it is down) waits.
    const publishingWhileDown = sender.publishing;
    const sentBeforeStart = sender.sent;
    await redisServer.start();
    redisDown = false;
    await producing;
    assert.ok(publishingWhileDown, 'a batch was being published while Redis was down');
    assert.ok(sentAtRestart < TOTAL, `the producer was still sending when Redis stopped (had sent ${sentAtRestart})`);

    const missing = await waitAllSucceeded(app.backend!, ids, 90_000 + OUTAGE_MS, 500);
    const errors = worker.lines.filter((l) => / ERROR /.test(l));
    assert.equal(missing.length, 0, `${missing.length} task(s) without a SUCCESS result, e.g. ${missing.slice(0, 5).join(', ')}; the worker logged ${errors.length} error(s):\n${errors.slice(0, 5).join('\n')}`);
    assert.ok(worker.alive, `the worker kept running through the restart; last lines:\n${worker.tail()}`);
    assert.ok(worker.lines.some((l) => l.includes('connection lost')), 'the worker saw Redis go away');
    assert.ok(worker.lines.some((l) => l.includes('connection is back')), 'the worker reconnected by itself');
    const exit = await stopWorker(worker);
    assert.equal(exit.code, 0, `the worker exits 0 after SIGTERM; last lines:\n${worker.tail()}`);

    const raw = rawClient(redisServer.url);
    try {
      assert.equal(await raw.hlen('chaos-restart:unacked'), 0, 'nothing left in unacked');
    } finally {
      raw.disconnect();
    }
    assert.equal(await app.broker.size(QUEUE), 0, 'nothing left on the queue');
    assert.deepEqual(await app.broker.listDeadLetters(), [], 'nothing dead-lettered');
    const ran = worker.totals?.succeeded ?? NaN;
    assert.ok(ran >= TOTAL, `the worker ran at least ${TOTAL} tasks (it reports ${ran})`);
    t.diagnostic(`restart after ${processedAtRestart} processed and ${sentAtRestart} sent; sent when it came back: ${sentBeforeStart}; publish retries: ${sender.publishRetries}; task runs: ${ran} (${ran - TOTAL} more than once)`);
    t.diagnostic(`producer warnings: ${warnings.length ? warnings.join(' | ') : 'none'}`);
  });
});
