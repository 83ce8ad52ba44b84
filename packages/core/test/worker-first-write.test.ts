/**
 * Which result writes the worker marks as the task's first state (SetResultOptions.firstWrite,
 * which lets a backend skip reading before it writes): the SUCCESS of a message's first delivery,
 * not a retry, with no STARTED or progress state stored for it before; never any other write.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MemoryBackend, MemoryBroker, Reject, silentLogger, App, type ResultMeta, type SetResultOptions } from '../src/index.js';
import { startWorker } from './helpers.js';

/** The in-memory backend, remembering each write's status and hint. */
class HintedBackend extends MemoryBackend {
  readonly writes: Array<{ taskId: string; status: string; firstWrite: boolean }> = [];
  override set(taskId: string, meta: ResultMeta, options?: SetResultOptions): Promise<void> {
    this.writes.push({ taskId, status: meta.status, firstWrite: options?.firstWrite === true });
    return super.set(taskId, meta, options);
  }
  of(taskId: string): string[] {
    return this.writes.filter((w) => w.taskId === taskId).map((w) => `${w.status}${w.firstWrite ? ' first' : ''}`);
  }
}

describe('worker: first writes', () => {
  const backend = new HintedBackend();
  const app = new App({ broker: new MemoryBroker(), backend, logger: silentLogger });
  let stop: () => Promise<void>;
  let rejected = false;
  before(() => {
    app.task('fw.plain', () => 1);
    // Late ack: its SUCCESS is stored on the reporter's other path (record()).
    app.task({ name: 'fw.late', acksLate: true }, () => 6);
    app.task({ name: 'fw.started', trackStarted: true }, () => 2);
    app.task('fw.progress', async (ctx) => {
      await ctx.progress({ done: 1 });
      return 3;
    });
    app.task('fw.retried', (ctx) => {
      if (ctx.retries === 0) ctx.retry({ countdown: 0.01 });
      return 4;
    });
    app.task({ name: 'fw.redelivered', acksLate: true }, () => {
      if (rejected) return 5;
      rejected = true;
      throw new Reject('once more', { requeue: true });
    });
    ({ stop } = startWorker(app));
  });
  after(async () => {
    await stop();
    await app.close();
  });

  test('the SUCCESS of a first delivery with nothing stored before is a first write (early or late ack)', async () => {
    const r = await app.sendTask('fw.plain');
    const late = await app.sendTask('fw.late');
    assert.equal(await r.get({ timeout: 5000 }), 1);
    assert.equal(await late.get({ timeout: 5000 }), 6);
    assert.deepEqual(backend.of(r.id), ['SUCCESS first']);
    assert.deepEqual(backend.of(late.id), ['SUCCESS first']);
  });

  test('not after a STARTED or a progress state', async () => {
    const started = await app.sendTask('fw.started');
    const progress = await app.sendTask('fw.progress');
    assert.equal(await started.get({ timeout: 5000 }), 2);
    assert.equal(await progress.get({ timeout: 5000 }), 3);
    assert.deepEqual(backend.of(started.id), ['STARTED', 'SUCCESS']);
    assert.deepEqual(backend.of(progress.id), ['PROGRESS', 'SUCCESS']);
  });

  test('not for a retry, nor for a redelivered message', async () => {
    const retried = await app.sendTask('fw.retried');
    const redelivered = await app.sendTask('fw.redelivered');
    assert.equal(await retried.get({ timeout: 5000 }), 4);
    assert.equal(await redelivered.get({ timeout: 5000 }), 5);
    assert.deepEqual(backend.of(retried.id), ['RETRY', 'SUCCESS']);
    assert.deepEqual(backend.of(redelivered.id), ['SUCCESS']);
  });
});
