/** The task context behaves as a plain object: destructured or spread, its methods and signal come along. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { memoryApp, startWorker } from './helpers.js';

it('ctx can be destructured and spread', async () => {
  const app = memoryApp();
  const probe = app.task('ctx.probe', (ctx) => {
    const { retry, progress } = ctx;
    const copy = { ...ctx };
    const assigned = Object.assign({}, ctx);
    return [typeof retry, typeof progress, typeof copy.retry, typeof copy.updateState, typeof copy.progress, copy.signal instanceof AbortSignal, assigned.id === ctx.id, typeof assigned.retry];
  });
  const { stop } = startWorker(app);
  try {
    const result = await probe.delay();
    assert.deepEqual(await result.get({ timeout: 10_000 }), ['function', 'function', 'function', 'function', 'function', true, true, 'function']);
  } finally {
    await stop();
    await app.close();
  }
});
