/**
 * DeadlineQueue (deadline-queue.ts): deadlines on one timer.
 * - each target is stopped once its time has passed, never before, in deadline order whatever
 *   the order they were added in;
 * - a cancelled deadline stops nothing; cancelling twice, or after it fired, is harmless;
 * - a deadline added from a stop() is served too, and so is one added after all were cancelled;
 * - a live deadline keeps the process running (a cancelled one does not); with holdsProcess false
 *   none does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineQueue } from '@celeriac/core';

/** A target that records when (performance.now()) and in which order it was stopped. */
function recorder(log: string[], name: string, times?: Map<string, number>) {
  return {
    stop() {
      log.push(name);
      times?.set(name, performance.now());
    },
  };
}

/** Waits until `done()` holds (polling; a bound of 5 s, so a slow machine waits rather than fails). */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 5) {
    assert.ok(waited < 5000, 'waited 5 s');
    await sleep(5);
  }
}

describe('DeadlineQueue', () => {
  it('stops each target once its time has passed, earliest first, whatever the order of adding', async () => {
    const queue = new DeadlineQueue();
    const log: string[] = [];
    const times = new Map<string, number>();
    const start = performance.now();
    const delays: Record<string, number> = { c: 60, a: 10, d: 80, b: 30, e: 30 };
    for (const [name, ms] of Object.entries(delays)) queue.add(ms, recorder(log, name, times));
    await until(() => log.length === 5);
    // b and e are due together: either may go first.
    assert.deepEqual(log.filter((n) => n !== 'e'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(log.filter((n) => n !== 'b'), ['a', 'e', 'c', 'd']);
    for (const [name, ms] of Object.entries(delays)) assert.ok(times.get(name)! - start >= ms, `${name} stopped early`);
  });

  it('a cancelled deadline stops nothing; cancel is idempotent and harmless after firing', async () => {
    const queue = new DeadlineQueue();
    const log: string[] = [];
    const kept = queue.add(20, recorder(log, 'kept'));
    const dropped = queue.add(10, recorder(log, 'dropped'));
    queue.cancel(dropped);
    queue.cancel(dropped);
    // kept is due after dropped: once it fired, dropped's time has passed too.
    await until(() => log.length > 0);
    assert.deepEqual(log, ['kept']);
    queue.cancel(kept);
    assert.deepEqual(log, ['kept']);
  });

  it('serves a deadline added from a stop(), and one added after every deadline was cancelled', async () => {
    const queue = new DeadlineQueue();
    const log: string[] = [];
    queue.cancel(queue.add(5, recorder(log, 'never')));
    queue.add(10, {
      stop() {
        log.push('first');
        queue.add(10, recorder(log, 'from-stop'));
      },
    });
    await until(() => log.length >= 2);
    assert.deepEqual(log, ['first', 'from-stop']);
    queue.add(5, recorder(log, 'later'));
    await until(() => log.length >= 3);
    assert.deepEqual(log, ['first', 'from-stop', 'later']);
  });

  /**
   * A fresh Node process that arms one deadline of `ms` (its stop() prints "fired"), cancelling it
   * at once when told; what it printed and whether it ended by itself (within 60 s: a deadline of
   * ten minutes that held it would not).
   */
  function child(holds: boolean, ms: number, cancel: boolean): { out: string; endedByItself: boolean } {
    const core = fileURLToPath(new URL('../src/deadline-queue.ts', import.meta.url));
    const script = `import { DeadlineQueue } from ${JSON.stringify(core)};
      const q = new DeadlineQueue(${holds}); const d = q.add(${ms}, { stop() { console.log('fired'); } }); if (${cancel}) q.cancel(d);`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    return { out: run.stdout.trim(), endedByItself: run.status === 0 && run.signal === null };
  }

  it('keeps the process running while a deadline is live, and not once it is cancelled or when told not to', () => {
    assert.deepEqual(child(true, 200, false), { out: 'fired', endedByItself: true }, 'held until the deadline fired');
    assert.deepEqual(child(true, 600_000, true), { out: '', endedByItself: true }, 'a cancelled deadline does not hold the process');
    assert.deepEqual(child(false, 600_000, false), { out: '', endedByItself: true }, 'holdsProcess false: a live deadline does not hold it');
  });
});
