/**
 * The broker, its consumers and the result backend each have a string-union state, changed through
 * core's Lifecycle (one transition table; every change logged as `from -> to`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import type { Logger } from '@celeriac/core';
import { sampleMeta } from '@celeriac/testing';
import { SqliteBackend, SqliteBroker, type SqliteConsumer } from '@celeriac/sqlite';
import { tempDir } from './temp-db.js';

const dir = tempDir('lifecycle');

/** A logger that keeps the `name: from -> to` lines it is given. */
function transitionLog(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string) => {
    if (message.includes(' -> ')) lines.push(message);
  };
  return { logger: { debug: keep, info: keep, warn() {}, error() {} }, lines };
}

/** The state is read from outside but changed only through the lifecycle. */
function assertReadOnlyState(target: object, what: string): void {
  assert.equal(Reflect.set(target, 'state', 'closed'), false, `${what}: assigning state from outside must not work`);
}

it('the broker goes new -> open -> closed, and its consumers consuming -> cancelled', async () => {
  const path = join(dir, 'broker.db');
  const { logger, lines } = transitionLog();
  const broker = new SqliteBroker({ path, logger });
  assert.equal(broker.state, 'new');
  await broker.connect();
  await broker.connect();
  assert.equal(broker.state, 'open');
  const consumer = (await broker.consume(['q'], () => {}, { prefetch: 1 })) as SqliteConsumer;
  const other = (await broker.consume(['r'], () => {}, { prefetch: 1 })) as SqliteConsumer;
  assert.equal(consumer.state, 'consuming');
  assertReadOnlyState(broker, 'broker');
  assertReadOnlyState(consumer, 'consumer');
  assert.equal(broker.state, 'open');
  assert.equal(consumer.state, 'consuming');
  await consumer.cancel();
  await consumer.cancel();
  assert.equal(consumer.state, 'cancelled');
  await broker.close();
  await broker.close();
  assert.equal(broker.state, 'closed');
  assert.equal(other.state, 'cancelled', 'closing the broker cancels its consumers');
  assert.deepEqual(lines, [
    `sqlite broker ${path}: new -> open`,
    'sqlite consumer q: consuming -> cancelled',
    `sqlite broker ${path}: open -> closed`,
    'sqlite consumer r: consuming -> cancelled',
  ]);
});

it('a broker closed before it was opened goes new -> closed', async () => {
  const path = join(dir, 'never-opened.db');
  const { logger, lines } = transitionLog();
  const broker = new SqliteBroker({ path, logger });
  await broker.close();
  assert.equal(broker.state, 'closed');
  await assert.rejects(broker.connect(), { code: 'CELERIAC_E_CLOSED' });
  assert.deepEqual(lines, [`sqlite broker ${path}: new -> closed`]);
});

it('the result backend goes new -> open -> closed', async () => {
  const path = join(dir, 'backend.db');
  const { logger, lines } = transitionLog();
  const backend = new SqliteBackend({ path, logger });
  assert.equal(backend.state, 'new');
  await backend.set('t1', sampleMeta('t1'));
  assert.equal(backend.state, 'open');
  assertReadOnlyState(backend, 'backend');
  assert.equal(backend.state, 'open');
  await backend.close();
  await backend.close();
  assert.equal(backend.state, 'closed');
  await assert.rejects(backend.get('t1'), { code: 'CELERIAC_E_CLOSED' });
  assert.deepEqual(lines, [`sqlite backend ${path}: new -> open`, `sqlite backend ${path}: open -> closed`]);
});
