/** Retries, backoff and time limits on the in-memory broker. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RemoteTaskError, States, type App } from '../src/index.js';
import { memoryApp, startWorker } from './helpers.js';

class ServiceError extends Error {
  override name = 'ServiceError';
}

describe('retries and time limits', () => {
  let app: App;
  let stop: () => Promise<void>;
  const calls = new Map<string, number>();
  const seenRetries: number[] = [];
  const bump = (id: string) => calls.set(id, (calls.get(id) ?? 0) + 1);

  before(() => {
    app = memoryApp();
    app.task({ name: 'flaky', maxRetries: 5 }, (ctx, failTimes: number) => {
      bump(ctx.id);
      seenRetries.push(ctx.retries);
      if (ctx.retries < failTimes) ctx.retry({ countdown: 0.01, exc: new ServiceError(`attempt ${ctx.retries}`) });
      return `ok after ${ctx.retries}`;
    });
    app.task({ name: 'always-fails', maxRetries: 2 }, (ctx) => {
      bump(ctx.id);
      ctx.retry({ countdown: 0.01, exc: new ServiceError('still down') });
    });
    app.task({ name: 'no-exc', maxRetries: 1 }, (ctx) => {
      bump(ctx.id);
      ctx.retry({ countdown: 0.01 });
    });
    app.task({ name: 'auto', autoretryFor: [ServiceError], retryBackoff: 0.01, retryJitter: false, maxRetries: 3 }, (ctx) => {
      bump(ctx.id);
      if (ctx.retries < 2) throw new ServiceError('flap');
      return ctx.retries;
    });
    app.task({ name: 'auto-by-name', autoretryFor: ['ServiceError'], defaultRetryDelay: 0.01, maxRetries: 1 }, (ctx) => {
      bump(ctx.id);
      throw new ServiceError('always');
    });
    app.task({ name: 'not-listed', autoretryFor: [ServiceError], defaultRetryDelay: 0.01 }, (ctx) => {
      bump(ctx.id);
      throw new RangeError('not retried');
    });
    app.task({ name: 'waits-long' }, (ctx) => ctx.retry({ countdown: 3600, exc: new ServiceError('try much later') }));
    app.task({ name: 'slow-soft', softTimeLimit: 0.05 }, (ctx) =>
      new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted by signal')))),
    );
    app.task({ name: 'soft-caught', softTimeLimit: 0.05 }, (ctx) =>
      new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(`cleaned up: ${(ctx.signal.reason as Error).name}`))),
    );
    app.task({ name: 'stuck-hard', timeLimit: 0.05 }, () => new Promise(() => undefined));
    ({ stop } = startWorker(app));
  });
  after(async () => {
    await stop();
    await app.close();
  });

  test('ctx.retry() re-sends the task with retries + 1 and it succeeds later', async () => {
    const r = await app.sendTask('flaky', { args: [2] });
    assert.equal(await r.get({ timeout: 5000 }), 'ok after 2');
    assert.equal(calls.get(r.id), 3);
    assert.equal((await r.meta()).retries, 2);
  });

  test('after the last retry the task fails with the original error', async () => {
    const r = await app.sendTask('always-fails');
    await assert.rejects(r.get({ timeout: 5000 }), (err: unknown) => {
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.name, 'ServiceError');
      assert.equal(err.message, 'still down');
      return true;
    });
    assert.equal(calls.get(r.id), 3, 'first run + 2 retries');
  });

  test('without exc, the last retry fails with MaxRetriesExceededError', async () => {
    const r = await app.sendTask('no-exc');
    await assert.rejects(r.get({ timeout: 5000 }), { name: 'MaxRetriesExceededError' });
    assert.equal(calls.get(r.id), 2);
  });

  test('autoretryFor retries listed errors with backoff; others fail at once', async () => {
    const r = await app.sendTask('auto');
    assert.equal(await r.get({ timeout: 5000 }), 2);
    const byName = await app.sendTask('auto-by-name');
    await assert.rejects(byName.get({ timeout: 5000 }), { name: 'ServiceError' });
    assert.equal(calls.get(byName.id), 2);
    const other = await app.sendTask('not-listed');
    await assert.rejects(other.get({ timeout: 5000 }), { name: 'ValueError' });
    assert.equal(calls.get(other.id), 1);
  });

  test('a retry stores RETRY with its error while the re-sent message waits for its eta', async () => {
    const r = await app.sendTask('waits-long');
    let meta = await r.meta();
    for (let i = 0; i < 500 && meta.status !== States.RETRY; i++) {
      await new Promise((res) => setTimeout(res, 2));
      meta = await r.meta();
    }
    assert.equal(meta.status, States.RETRY);
    assert.deepEqual(meta.result, { exc_type: 'ServiceError', exc_message: ['try much later'], exc_module: 'celeriac' });
    assert.equal(meta.date_done, null);
    assert.equal(await r.ready(), false);
  });

  test('the soft time limit aborts ctx.signal and fails the task with SoftTimeLimitExceeded', async () => {
    const r = await app.sendTask('slow-soft');
    await assert.rejects(r.get({ timeout: 5000 }), (err: unknown) => {
      assert.ok(err instanceof RemoteTaskError);
      assert.equal(err.name, 'SoftTimeLimitExceeded');
      assert.equal(err.excModule, 'billiard.exceptions');
      return true;
    });
  });

  test('a task that handles the soft limit may still return a result, as in Celery', async () => {
    const r = await app.sendTask('soft-caught');
    assert.equal(await r.get({ timeout: 5000 }), 'cleaned up: SoftTimeLimitExceeded');
  });

  test('the hard time limit fails the task with TimeLimitExceeded and frees its slot', async () => {
    const r = await app.sendTask('stuck-hard');
    await assert.rejects(r.get({ timeout: 5000 }), { name: 'TimeLimitExceeded' });
    assert.deepEqual((await r.info()) as unknown, { exc_type: 'TimeLimitExceeded', exc_message: [0.05], exc_module: 'billiard.exceptions' });
  });
});
