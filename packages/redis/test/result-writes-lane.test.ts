/**
 * Result writes and the shared lane (result-writes.ts, shared-lane.ts), without a server: a write
 * made while a take is coming is held for that take (and sent on its own path when the take is
 * dropped), and one made after the writes left the lane (the backend closing) is sent on its own
 * path at once, even while a broker's take is still coming: never left waiting for a take that
 * will not carry it.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { silentLogger } from '@celeriac/core';
import type { Redis } from 'ioredis';
import { ResultWrites } from '../src/result-writes.js';
import { Lane } from '../src/shared-lane.js';

/** Writes whose own path fails at once (a closed backend): `sent` counts the attempts. */
function closedWrites(lane: Lane) {
  const state = { sent: 0 };
  const writes = new ResultWrites({
    client: (): Redis => {
      state.sent++;
      throw new Error('the backend is closed');
    },
    stopped: () => true,
    logger: silentLogger,
    what: 'test backend',
    lane,
  });
  return { writes, state };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

it('a write made while a take is coming waits for it, and goes on its own when the take is dropped', async () => {
  const lane = new Lane();
  const { writes, state } = closedWrites(lane);
  lane.expectTake();
  const written = writes.write('k', 'v', 0, true);
  const settled = written.then(() => 'resolved', (err: Error) => err.message);
  await nextTurn();
  await nextTurn();
  assert.equal(state.sent, 0, 'held for the take');
  lane.board(null);
  assert.equal(await settled, 'the backend is closed');
  assert.equal(state.sent, 1);
});

it('a write made after leaving the lane is sent at once, though a take is coming', async () => {
  const lane = new Lane();
  const { writes, state } = closedWrites(lane);
  writes.leave();
  lane.expectTake();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    writes.write('k', 'v', 0, true).then(() => 'resolved', (err: Error) => err.message),
    new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting after 2 s'), 2000))),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, 'the backend is closed');
  assert.equal(state.sent, 1);
  lane.board(null);
});
