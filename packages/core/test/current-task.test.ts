/**
 * Implicit parent_id/root_id: a task sent from inside a task names that task as its parent and
 * shares its root, whatever kind of function the task is and on every run of it (AsyncLocalStorage
 * is on only while a task runs: a synchronous run switches it off as it returns, a run that returned
 * a promise keeps it on until that promise settles), including a function that returns a plain
 * value on one run and a promise on the next. A send from outside any task has no parent and is
 * its own root.
 *
 * Each parent is published with a root_id of its own (not its id), so root_id is really inherited.
 * Each child is sent with a known taskId to an unconsumed queue and read from the recording broker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildTaskMessage, encodeTaskMessage, type App } from '../src/index.js';
import { memoryApp, RecordingBroker, sleep, startWorker } from './helpers.js';

const SIDE = 'children'; // nobody consumes it: children are only sent, never run

describe('implicit parent_id and root_id', () => {
  const broker = new RecordingBroker();
  let app: App;
  let stop: () => Promise<void>;
  /** Promises the interleaving test resolves to let a parent go on (all open once it is over). */
  const gates = new Map<string, () => void>();
  let gatesOpen = false;
  const gate = (name: string) => (gatesOpen ? Promise.resolve() : new Promise<void>((resolve) => gates.set(name, resolve)));

  before(async () => {
    app = memoryApp(broker);
    const child = app.task('ct.child', () => null);
    const send = (taskId: string) => child.applyAsync({ taskId, queue: SIDE });
    app.task('ct.sync', (_ctx, childId: string) => {
      void send(childId);
      return 'sent';
    });
    app.task('ct.async', async (_ctx, childId: string) => {
      await sleep(1);
      await send(childId);
      return 'sent';
    });
    app.task('ct.then', (_ctx, childId: string) => sleep(1).then(() => send(childId)).then(() => 'sent'));
    app.task('ct.interleaved', async (_ctx, first: string, second: string) => {
      await gate(first);
      await send(first);
      await gate(second);
      await send(second);
      return 'sent';
    });
    await app.connect();
    ({ stop } = startWorker(app));
  });
  after(async () => {
    await stop();
    await app.close();
  });

  /** Publishes a parent task with a root and parent of its own; returns them and a way to await its result. */
  async function publishParent(task: string, ...args: unknown[]) {
    const id = randomUUID();
    const rootId = `root-of-${id}`;
    const message = buildTaskMessage({ task, id, args, rootId, parentId: `parent-of-${id}`, origin: app.origin, replyTo: app.oid, now: new Date() });
    await broker.publish(encodeTaskMessage(message), { queue: app.defaultQueue });
    return { id, rootId, done: () => app.asyncResult(id).get({ timeout: 5000 }) };
  }

  /** The headers of the message sent with this id, once it has been published. */
  async function sent(id: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 1000; i++) {
      const found = broker.published.find((p) => p.message.headers['id'] === id);
      if (found) return found.message.headers;
      await sleep(5);
    }
    assert.fail(`message ${id} was never sent`);
  }

  /** Runs `task` as a parent that sends one child, and checks the child's parent_id and root_id. */
  async function checkChildOf(task: string): Promise<void> {
    const childId = randomUUID();
    const parent = await publishParent(task, childId);
    assert.equal(await parent.done(), 'sent');
    const headers = await sent(childId);
    assert.equal(headers['parent_id'], parent.id, `${task}: parent_id`);
    assert.equal(headers['root_id'], parent.rootId, `${task}: root_id`);
  }

  /** A send from outside any task: no parent, its own root. */
  async function checkTopLevelSend(): Promise<void> {
    const r = await app.sendTask('ct.child', { queue: SIDE });
    const headers = await sent(r.id);
    assert.equal(headers['parent_id'], null);
    assert.equal(headers['root_id'], r.id);
  }

  test('outside any task, before any task ran', () => checkTopLevelSend());

  test('a synchronous task function, on its first and later runs', async () => {
    for (let run = 0; run < 3; run++) await checkChildOf('ct.sync');
  });

  test('an async function that sends after an await, on its first and later runs', async () => {
    for (let run = 0; run < 3; run++) await checkChildOf('ct.async');
  });

  test('a non-async function returning a promise that sends in a .then callback, on its first and later runs', async () => {
    for (let run = 0; run < 3; run++) await checkChildOf('ct.then');
  });

  test('two async tasks interleaving (and a synchronous one between them): each send gets its own parent', async () => {
    const [a1, a2, b1, b2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const a = await publishParent('ct.interleaved', a1, a2);
    const b = await publishParent('ct.interleaved', b1, b2);
    const open = async (name: string) => {
      for (let i = 0; !gates.has(name); i++) {
        assert.ok(i < 1000, `no parent waits on gate ${name}`);
        await sleep(5);
      }
      gates.get(name)!();
      await sent(name);
    };
    try {
      // a sends, b sends, a synchronous task runs and sends, b sends again, then a.
      await open(a1);
      await open(b1);
      await checkChildOf('ct.sync');
      await checkTopLevelSend(); // outside any task while two are in flight
      await open(b2);
      await open(a2);
    } finally {
      gatesOpen = true; // a failed check must not leave the parents waiting (and the worker's shutdown with them)
      for (const resolve of gates.values()) resolve();
    }
    assert.deepEqual(await Promise.all([a.done(), b.done()]), ['sent', 'sent']);
    for (const [childId, parent] of [[a1, a], [b1, b], [b2, b], [a2, a]] as const) {
      const headers = await sent(childId);
      assert.equal(headers['parent_id'], parent.id);
      assert.equal(headers['root_id'], parent.rootId);
    }
  });

  test('outside any task, right after tasks ran', async () => {
    await checkChildOf('ct.async');
    await checkTopLevelSend();
    await checkChildOf('ct.sync');
    await checkTopLevelSend();
  });
});

test('a task function that returns a value on one run and a promise on the next keeps its parent in .then', async () => {
  const broker = new RecordingBroker();
  const app = memoryApp(broker);
  const child = app.task('ct.child', () => null);
  app.task('ct.maybe', (_ctx, cached: boolean, childId: string) =>
    cached ? 'cached' : sleep(1).then(() => child.applyAsync({ taskId: childId, queue: SIDE })).then(() => 'fetched'));
  const { stop } = startWorker(app);
  try {
    assert.equal(await (await app.sendTask('ct.maybe', { args: [true, 'first'] })).get({ timeout: 5000 }), 'cached');
    const parent = await app.sendTask('ct.maybe', { args: [false, 'second'] });
    assert.equal(await parent.get({ timeout: 5000 }), 'fetched');
    const headers = broker.published.find((p) => p.message.headers['id'] === 'second')!.message.headers;
    assert.equal(headers['parent_id'], parent.id);
    assert.equal(headers['root_id'], parent.id);
  } finally {
    await stop();
    await app.close();
  }
});
