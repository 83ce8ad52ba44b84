/**
 * Review: a cold shutdown must not wait for result writes. Before this session a finished task's
 * reporting ran inside `runs`, which a cold shutdown does not wait for, and a late-ack task still
 * reporting was in `active`, so abortActive() gave its message back. Now reporting goes into
 * `pending` (which every shutdown waits for) and the task has left `active`: with a backend that
 * does not answer (Redis backend during an outage retries a write until it is back), the second
 * SIGINT/SIGTERM no longer stops the worker, and a late-ack message is not given back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBroker, Worker } from '../src/index.js';
import { HoldingBackend, memoryApp, sleep, until } from './helpers.js';


for (const acksLate of [false, true]) {
  test(`review: a cold shutdown does not wait for a result write that does not complete (acksLate: ${acksLate})`, async () => {
    const broker = new MemoryBroker();
    const backend = new HoldingBackend();
    const app = memoryApp(broker, { backend });
    app.task({ name: 'review.noop', acksLate }, () => 1);
    await app.sendTask('review.noop');
    const worker = Worker.create(app, { concurrency: 1 });
    const running = worker.run();
    await until(() => backend.writes > 0, 'the result write to start');

    void worker.shutdown();
    const cold = worker.shutdown({ cold: true }).then(() => 'stopped' as const);
    const outcome = await Promise.race([cold, sleep(2000).then(() => 'still waiting' as const)]);
    try {
      assert.equal(outcome, 'stopped', 'the cold shutdown is waiting for a result write');
      if (acksLate) assert.equal(await broker.size('celery'), 1, 'the late-ack message went back');
    } finally {
      backend.releaseAll();
      await cold;
      await running;
      await app.close();
    }
  });
}
