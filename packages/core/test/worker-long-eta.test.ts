/**
 * Review: an ETA further away than a timer can wait (2^31-1 ms, about 24.8 days) ran when that
 * timer fired, days early; and a timer firing a little before the due time by the wall clock ran
 * the task early too. The worker now re-arms a held task's timer for whatever is left. Shown with
 * Node's mock timers (setTimeout and Date): a task due in 30 days has not run after 25 days and
 * runs once the 30 days are up.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { memoryApp, NoDelayBroker, startWorker } from './helpers.js';

const DAY_MS = 86_400_000;
const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

test('a task due in 30 days is held all 30, through the timer limit of ~24.8 days', async () => {
  const app = memoryApp(new NoDelayBroker());
  let ranAt: number | null = null;
  app.task('later', () => {
    ranAt = Date.now();
  });
  const { worker, stop } = startWorker(app, { concurrency: 1, prefetchMultiplier: 1 });
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  try {
    const sentAt = Date.now();
    await app.sendTask('later', { eta: new Date(sentAt + 30 * DAY_MS) });
    await turns();
    assert.equal(worker.stats.received, 1, 'the worker has the message (held)');
    mock.timers.tick(25 * DAY_MS);
    await turns();
    assert.equal(ranAt, null, 'not run after 25 days');
    mock.timers.tick(5 * DAY_MS);
    await turns();
    assert.notEqual(ranAt, null, 'run once due');
    assert.ok(ranAt! >= sentAt + 30 * DAY_MS);
  } finally {
    mock.timers.reset();
    await stop();
    await app.close();
  }
});
