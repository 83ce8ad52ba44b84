/**
 * Workflows end to end on a broker and result backend pair, with a celeriac worker in this
 * process: the cases every backend that can hold chords must pass (SQLite, Redis, memory).
 *
 * ```ts
 * canvasConformance('redis', { createApp: () => new App({ broker: url, backend: url }) });
 * ```
 *
 * The app must be fresh (no tasks registered); the suite registers its own (`canvas.*`) and runs
 * a worker on the app's default queue, so each suite needs a queue or namespace of its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chain, chord, group, GroupResult, linkError, RemoteTaskError, signature, Worker, type App, type AsyncResult } from '@celeriac/core';

export interface CanvasConformanceOptions {
  /** A fresh app on the broker and backend under test. */
  createApp(): App;
  /** Header tasks in the large chord. @default 1000 */
  largeChord?: number;
  /** Worker concurrency. @default 20 */
  concurrency?: number;
  /** Bound on each wait. @default 60 000 ms */
  timeoutMs?: number;
  skip?: string | false;
}

export function canvasConformance(name: string, options: CanvasConformanceOptions): void {
  const T = { timeout: options.timeoutMs ?? 60_000 };
  describe(`${name}: canvas workflows`, { skip: options.skip ?? false }, () => {
    let app: App;
    let worker: Worker;
    let running: Promise<void>;
    const errbacks: unknown[][] = [];
    const bodyRuns: unknown[][] = [];
    let release: () => void = () => {};

    before(async () => {
      app = options.createApp();
      app.task('canvas.add', (_ctx, x: number, y: number) => x + y);
      app.task('canvas.mul', (_ctx, x: number, y: number) => x * y);
      app.task({ name: 'canvas.fail', maxRetries: 0 }, () => {
        throw new RangeError('boom');
      });
      app.task('canvas.xsum', (_ctx, values: number[]) => {
        bodyRuns.push(values);
        return values.reduce((s, v) => s + v, 0);
      });
      app.task('canvas.on_err', (_ctx, ...args: unknown[]) => {
        errbacks.push(args);
      });
      const gate = new Promise<void>((r) => (release = r));
      app.task('canvas.wait', async () => {
        await gate;
        return 1;
      });
      await app.connect();
      worker = Worker.create(app, { concurrency: options.concurrency ?? 20 });
      running = worker.run();
    });
    after(async () => {
      release();
      await worker?.shutdown();
      await running;
      await app?.close();
    });

    const s = (task: string, ...args: unknown[]) => signature(`canvas.${task}`, { args });

    it('a chain passes each result on', async () => {
      const res = (await app.apply(chain(s('add', 2, 2), s('mul', 4), s('add', 1)))) as AsyncResult;
      assert.equal(await res.get(T), 17);
    });

    it('a group gives its results in order', async () => {
      const res = (await app.apply(group(s('add', 1, 1), s('mul', 3, 3), s('add', 2, 2)))) as GroupResult;
      assert.deepEqual(await res.join(T), [2, 9, 4]);
      assert.equal(await res.completedCount(), 3);
    });

    it('a chord runs its body once with the results in header order', async () => {
      bodyRuns.length = 0;
      const res = (await app.apply(chord([s('add', 1, 1), s('add', 2, 2), s('add', 3, 3)], s('xsum')))) as AsyncResult;
      assert.equal(await res.get(T), 12);
      assert.deepEqual(bodyRuns, [[2, 4, 6]]);
      assert.ok(res.parent instanceof GroupResult);
    });

    it('a chord waits for a slow header task', async () => {
      const res = (await app.apply(chord([s('wait'), s('add', 1, 1)], s('xsum')))) as AsyncResult;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await res.state(), 'PENDING');
      release();
      assert.equal(await res.get(T), 3);
    });

    it('a failing header task fails the body with ChordError and runs its error callbacks', async () => {
      errbacks.length = 0;
      bodyRuns.length = 0;
      const res = (await app.apply(chord([s('add', 1, 1), s('fail')], linkError(s('xsum'), s('on_err'))))) as AsyncResult;
      const failing = (res.parent as GroupResult).results[1]!;
      await assert.rejects(res.get(T), (err: unknown) => {
        assert.ok(err instanceof RemoteTaskError);
        assert.equal(err.name, 'ChordError');
        assert.equal(err.message, `Dependency ${failing.id} raised ValueError('boom')`);
        return true;
      });
      const deadline = Date.now() + T.timeout;
      while (errbacks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(errbacks, [[res.id]]);
      assert.deepEqual(bodyRuns, [], 'the body did not run');
    });

    it('a chain with a group followed by a task runs it as a chord', async () => {
      const res = (await app.apply(chain(s('add', 1, 1), group(s('add', 1), s('add', 2)), s('xsum')))) as AsyncResult;
      assert.equal(await res.get(T), 7);
    });

    it('a chord inside a chain passes its body\'s result on', async () => {
      const res = (await app.apply(chain(s('add', 1, 1), chord([s('add', 1), s('mul', 2)], s('xsum')), s('mul', 10)))) as AsyncResult;
      // (1+1) -> [2+1, 2*2] -> 7 -> 70
      assert.equal(await res.get(T), 70);
    });

    it('a failure ends every kind of workflow waiting on it', async () => {
      const failed = (name: string) => (err: unknown) => err instanceof RemoteTaskError && err.name === name;
      // A failed step fails the chord, group or chain steps after it.
      const afterChord = (await app.apply(chain(s('fail'), chord([s('add', 1, 1), s('add', 2, 2)], s('xsum')), s('add', 1)))) as AsyncResult;
      await assert.rejects(afterChord.get(T), failed('ValueError'));
      const afterGroup = (await app.apply(chain(s('fail'), group(s('add', 1, 1), s('add', 2, 2))))) as GroupResult;
      await assert.rejects(afterGroup.join(T), failed('ValueError'));
      // A failed header task fails a body that is a chain, and a chord inside a chain.
      const chainBody = (await app.apply(chord([s('fail'), s('add', 1, 1)], chain(s('xsum'), s('add', 1))))) as AsyncResult;
      await assert.rejects(chainBody.get(T), failed('ChordError'));
      const inChain = (await app.apply(chain(s('add', 1, 1), chord([s('fail'), s('add', 1)], s('xsum')), s('add', 1)))) as AsyncResult;
      await assert.rejects(inChain.get(T), failed('ChordError'));
    });

    it(`a chord of ${options.largeChord ?? 1000} header tasks completes`, async () => {
      bodyRuns.length = 0;
      const n = options.largeChord ?? 1000;
      const res = (await app.apply(chord(Array.from({ length: n }, (_, i) => s('add', i, 1)), s('xsum')))) as AsyncResult;
      assert.equal(await res.get(T), ((n - 1) * n) / 2 + n);
      assert.equal(bodyRuns.length, 1);
      assert.deepEqual(bodyRuns[0]!.slice(0, 3), [1, 2, 3], 'results in header order');
    });
  });
}
