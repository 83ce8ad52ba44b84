/**
 * Review: a task function that returns a lazy thenable (a query builder: Knex, Drizzle, Mongoose
 * Query...) must have its `then` called once. Each `then()` of such an object runs the query again
 * (Mongoose 6+ rejects the second with "Query was already executed").
 *
 * runAsTask (current-task.ts) calls `Promise.resolve(result)` to hook its leaveStorage, and
 * awaitTask (task-execution.ts) calls `Promise.resolve(returned)` again on the same object: for a
 * non-native thenable each Promise.resolve calls its `then`, so the query runs twice and the
 * outcome is that of the second run. Before this session `async runTask` resolved it once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { States } from '../src/index.js';
import { memoryApp, startWorker } from './helpers.js';

/** Runs its "query" on each then(); the second run fails, as a Mongoose Query does. */
class LazyQuery implements PromiseLike<number> {
  runs = 0;
  then<A = number, B = never>(onFulfilled?: ((value: number) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): PromiseLike<A | B> {
    this.runs++;
    const run = this.runs === 1 ? Promise.resolve(42) : Promise.reject(new Error('Query was already executed'));
    return run.then(onFulfilled, onRejected);
  }
}

test('review: a lazy thenable returned by a task function is run once, and its value is the result', async () => {
  const app = memoryApp();
  const queries: LazyQuery[] = [];
  app.task('review.query', () => {
    const q = new LazyQuery();
    queries.push(q);
    return q;
  });
  const { stop } = startWorker(app, { concurrency: 1 });
  try {
    const r = await app.sendTask('review.query');
    const value = await r.get({ timeout: 5000 }).catch((err: unknown) => err);
    assert.equal(queries.length, 1);
    assert.equal(queries[0]!.runs, 1, `the query ran ${queries[0]!.runs} times`);
    assert.equal(await r.state(), States.SUCCESS);
    assert.equal(value, 42);
  } finally {
    await stop();
    await app.close();
  }
});
