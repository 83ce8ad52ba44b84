/**
 * Nothing lost when RabbitMQ restarts in the middle of 10,000 tasks: a throwaway RabbitMQ node
 * (scratch-rabbit.ts) is stopped (SIGTERM) and started again on the same port and data directory
 * while a real `celeriac worker` child process runs tasks and a producer in this process sends
 * them. Neither is told about the restart: the worker reconnects by itself (it must not exit),
 * and every one of the 10,000 ids ends SUCCESS. Results go to a SQLite file (not rpc: the
 * restart must not be able to lose them).
 *
 * The producer sends batches of 500 with ids fixed up front, at most ~2,000 ahead of the worker,
 * so that sending spans the restart. A batch that fails with CELERIAC_E_UNAVAILABLE ("not
 * published", or "may or may not have been published") is sent again with the same ids
 * (at-least-once; a task sent twice has one result); any other error fails the test. A publish
 * that resolves was confirmed by RabbitMQ: if it had been lost, its id would never get a result.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, type Logger } from '@celeriac/core';
import { killStartedWorkers, PacedProducer, stopWorker, waitAllSucceeded, WorkerProcess } from '../../redis/test/chaos-fixture.js';
import { ScratchRabbit } from './scratch-rabbit.js';

const TOTAL = 10_000;
const BATCH = 500;
const RESTART_AFTER = 3_000;
const AHEAD = 2_000;
const QUEUE = 'chaos-restart';

const rabbit = await ScratchRabbit.start().catch((err: Error) => `the scratch RabbitMQ node did not start: ${err.message}`);
const skip = typeof rabbit === 'string' ? rabbit : false;
if (skip && process.env['CI']) throw new Error(`${skip}; CI is set, so this is a failure, not a skip`);

describe('chaos: RabbitMQ restarts in the middle of 10,000 tasks', { skip, timeout: 300_000 }, () => {
  const node = typeof rabbit === 'string' ? null : rabbit;
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-amqp-chaos-'));
  const results = `sqlite:///${join(dir, 'results.db')}`;
  const url = `${node?.url}?connection_timeout=5000`;
  const warnings: string[] = [];
  const keep = (level: string) => (message: string) => void warnings.push(`${level} ${message}`);
  const logger: Logger = { debug() {}, info() {}, warn: keep('warn'), error: keep('error') };
  const producer = skip ? null : new App({ broker: url, backend: results, logger });

  after(async () => {
    await killStartedWorkers();
    await producer?.close();
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('worker and producer carry on by themselves and every task ends SUCCESS', async (t) => {
    const app = producer!;
    const server = node!;
    const worker = new WorkerProcess(['-Q', QUEUE, '-c', '20', '-n', 'amqp-chaos@%h', '-l', 'info', '--progress-interval', '0.2'], {
      CELERIAC_BROKER_URL: url,
      CELERIAC_RESULT_BACKEND: results,
    });
    await worker.waitForLine(/worker amqp-chaos@\S+ ready/, 60_000);

    const ids = Array.from({ length: TOTAL }, () => randomUUID());
    let down = false;
    const sender = new PacedProducer(app, worker, ids, { queue: QUEUE, batch: BATCH, ahead: AHEAD, paused: () => down, diagnostic: (line) => t.diagnostic(line) });
    const producing = sender.done;

    await Promise.race([worker.waitProcessed(RESTART_AFTER, 120_000), producing.then(() => worker.waitProcessed(RESTART_AFTER, 120_000))]);
    const processedAtRestart = worker.processed;
    const sentAtRestart = sender.sent;
    down = true;
    await server.stop();
    const publishingWhileDown = sender.publishing;
    await server.boot();
    down = false;
    await producing;
    assert.ok(sentAtRestart < TOTAL, `the producer was still sending when RabbitMQ stopped (had sent ${sentAtRestart})`);

    const missing = await waitAllSucceeded(app.backend!, ids, 180_000, 500);
    const errors = worker.lines.filter((l) => / ERROR /.test(l));
    assert.equal(missing.length, 0, `${missing.length} task(s) without a SUCCESS result, e.g. ${missing.slice(0, 5).join(', ')}; the worker logged ${errors.length} error(s):\n${errors.slice(0, 5).join('\n')}`);
    assert.ok(worker.alive, `the worker kept running through the restart; last lines:\n${worker.tail()}`);
    assert.ok(worker.lines.some((l) => /connection to .* lost/.test(l)), 'the worker saw RabbitMQ go away');
    assert.ok(worker.lines.some((l) => /connected to amqp/.test(l)), 'the worker reconnected by itself');
    const exit = await stopWorker(worker);
    assert.equal(exit.code, 0, `the worker exits 0 after SIGTERM; last lines:\n${worker.tail()}`);
    assert.equal(await app.broker.size(QUEUE), 0, 'nothing left on the queue');
    assert.deepEqual(await app.broker.listDeadLetters(), [], 'nothing dead-lettered');
    const ran = worker.totals?.succeeded ?? NaN;
    assert.ok(ran >= TOTAL, `the worker ran at least ${TOTAL} tasks (it reports ${ran})`);
    t.diagnostic(`restart after ${processedAtRestart} processed and ${sentAtRestart} sent; a batch in flight at the stop: ${publishingWhileDown}; publish retries: ${sender.publishRetries}; task runs: ${ran} (${ran - TOTAL} more than once)`);
    t.diagnostic(`producer warnings: ${warnings.length ? warnings.join(' | ') : 'none'}`);
  });
});
