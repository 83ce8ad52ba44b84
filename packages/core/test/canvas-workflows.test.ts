/**
 * Workflows run end to end on the in-memory broker and backend: the client plans and sends, the
 * worker continues (chain steps, callbacks, error callbacks, builtins), results come back in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  chain,
  chord,
  chunks,
  decodeTaskMessage,
  group,
  GroupResult,
  link,
  linkError,
  map,
  RemoteTaskError,
  signature,
  starmap,
  withOptions,
  type App,
  type AsyncResult,
} from '../src/index.js';
import { memoryApp, RecordingBroker, startWorker } from './helpers.js';

const T = { timeout: 10_000 };

describe('canvas workflows (memory broker and backend)', () => {
  let app: App;
  let broker: RecordingBroker;
  let stop: () => Promise<void>;
  const errbackCalls: unknown[][] = [];
  let add: ReturnType<typeof defineTasks>['add'];
  let mul: ReturnType<typeof defineTasks>['mul'];
  let fail: ReturnType<typeof defineTasks>['fail'];
  let onErr: ReturnType<typeof defineTasks>['onErr'];
  let xsum: ReturnType<typeof defineTasks>['xsum'];

  function defineTasks(a: App) {
    return {
      add: a.task('t.add', (_ctx, x: number, y: number) => x + y),
      mul: a.task('t.mul', (_ctx, x: number, y: number) => x * y),
      fail: a.task({ name: 't.fail', maxRetries: 0 }, (_ctx, ..._args: unknown[]) => {
        throw new RangeError('boom');
      }),
      xsum: a.task('t.xsum', (_ctx, values: number[]) => values.reduce((s, v) => s + v, 0)),
      onErr: a.task('t.on_err', (_ctx, ...args: unknown[]) => {
        errbackCalls.push(args);
        return 'handled';
      }),
    };
  }

  before(() => {
    broker = new RecordingBroker();
    app = memoryApp(broker);
    ({ add, mul, fail, onErr, xsum } = defineTasks(app));
    ({ stop } = startWorker(app));
  });
  after(async () => {
    await stop();
    await app.close();
  });

  const messagesOf = (id: string) => broker.published.map((p) => decodeTaskMessage(p.message)).filter((m) => m.headers.id === id);

  it('a chain passes each result on, and its result leads back through parent', async () => {
    const res = (await app.apply(chain(add.s(2, 2), mul.s(4), add.s(1)))) as AsyncResult;
    assert.equal(await res.get(T), 17);
    const second = res.parent as AsyncResult;
    const first = second.parent as AsyncResult;
    assert.equal(await second.get(T), 16);
    assert.equal(await first.get(T), 4);
    assert.equal(first.parent, null);
    const [sent] = messagesOf(first.id);
    // Only the first task went out at apply time; the rest ride in embed.chain, last step first.
    assert.deepEqual(sent!.embed.chain!.map((s) => s.options!['task_id']), [res.id, second.id]);
    const [next] = messagesOf(second.id);
    assert.deepEqual(next!.args, [4, 4]);
    assert.equal(next!.headers.parent_id, first.id);
    assert.equal(next!.headers.root_id, first.id);
  });

  it('an immutable step keeps its own arguments', async () => {
    const res = (await app.apply(chain(add.s(1, 1), add.si(5, 5)))) as AsyncResult;
    assert.equal(await res.get(T), 10);
  });

  it('a group returns its members\' results in order, with counts', async () => {
    const res = await app.apply(group(add.s(1, 1), add.s(2, 2), mul.s(3, 3)));
    assert.ok(res instanceof GroupResult);
    assert.deepEqual(await res.join(T), [2, 4, 9]);
    assert.equal(await res.completedCount(), 3);
    assert.equal(await res.successful(), true);
    assert.equal(await res.failed(), false);
    for (const member of res.results) {
      const [m] = messagesOf(member.id);
      assert.equal(m!.headers.group, res.id);
      assert.equal(m!.headers.group_index, null);
    }
  });

  it('partial arguments go to every mutable group member', async () => {
    const res = await app.apply(group(add.s(1), add.s(2)), { args: [10] });
    assert.deepEqual(await res.join(T), [11, 12]);
  });

  it('a group with a failed member reports it and join() throws its error', async () => {
    const res = await app.apply(group(add.s(1, 1), fail.s()));
    await assert.rejects(res.join(T), (err: unknown) => err instanceof RemoteTaskError && err.name === 'ValueError');
    assert.deepEqual(await res.join({ ...T, propagate: false }).then((r) => r[0]), 2);
    assert.equal(await res.failed(), true);
    assert.equal(await res.completedCount(), 1);
  });

  it('a chain inside a group, and a chain ending in a group', async () => {
    const nested = await app.apply(group(chain(add.s(1, 1), mul.s(2)), add.s(3, 3)));
    assert.deepEqual(await nested.join(T), [4, 6]);
    const fan = await app.apply(chain(add.s(1, 1), group(add.s(1), add.s(2))));
    assert.ok(fan instanceof GroupResult);
    assert.deepEqual(await fan.join(T), [3, 4]);
  });

  it('a chord whose body is a chain: the result is the body\'s last step, its parent the step before', async () => {
    // The body's result used to be read off the chain signature itself, which has no id: get() waited on "undefined".
    const direct = await app.apply(chord([add.s(1, 1), add.s(2, 2)], chain(xsum.s(), mul.s(2))));
    assert.equal(typeof direct.id, 'string');
    assert.equal(await direct.get(T), 12);
    assert.equal(await (direct.parent as AsyncResult).get(T), 6);
    assert.ok(direct.parent!.parent instanceof GroupResult, 'the header is the first body step\'s parent');
    assert.deepEqual(await direct.parent!.parent.join(T), [2, 4]);
    // Celery's rule makes this one: chain(a, chord([b, c], chain(xsum, add))).
    const nested = (await app.apply(chain(add.s(1, 1), group(mul.s(2), mul.s(3)), xsum.s(), add.s(5)))) as AsyncResult;
    assert.equal(typeof nested.id, 'string');
    assert.equal(await nested.get(T), 15);
    assert.equal(await (nested.parent as AsyncResult).get(T), 10);
    // Then the header group, then the first step (Celery's prepare_steps).
    const header = nested.parent!.parent as GroupResult;
    assert.deepEqual(await header.join(T), [4, 6]);
    assert.equal(await (header.parent as AsyncResult).get(T), 2);
  });

  it('a link callback gets the result prepended; parent_id is the finished task', async () => {
    const res = (await app.apply(link(add.s(1, 2), mul.s(3)))) as AsyncResult;
    assert.equal(await res.get(T), 3);
    const callback = broker.published.map((p) => decodeTaskMessage(p.message)).find((m) => m.headers.task === 't.mul' && m.headers.parent_id === res.id);
    assert.ok(callback, 'the callback was sent');
    assert.deepEqual(callback.args, [3, 3]);
    assert.equal(await app.asyncResult(callback.headers.id).get(T), 9);
  });

  it('an error callback is sent with the failed task\'s id', async () => {
    errbackCalls.length = 0;
    const res = (await app.apply(linkError(fail.s(), onErr.s()))) as AsyncResult;
    await assert.rejects(res.get(T), RemoteTaskError);
    const deadline = Date.now() + 5000;
    while (errbackCalls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(errbackCalls, [[res.id]]);
  });

  it('a failed step fails the rest of its chain with the same error', async () => {
    const res = (await app.apply(chain(add.s(1, 1), fail.s(), add.s(1), mul.s(2)))) as AsyncResult;
    await assert.rejects(res.get(T), (err: unknown) => err instanceof RemoteTaskError && err.name === 'ValueError' && err.message.includes('boom'));
    const third = res.parent as AsyncResult;
    assert.equal(await third.state(), 'FAILURE');
  });

  it('a step this worker does not know fails its chord and the rest of its chain (NotRegistered), nothing waits', async () => {
    const unknown = signature('t.nobody_has_this');
    const body = (await app.apply(chord([add.s(1, 1), unknown], xsum.s()))) as AsyncResult;
    await assert.rejects(body.get(T), (err: unknown) => err instanceof RemoteTaskError && err.name === 'ChordError' && err.message.includes('NotRegistered'));
    const last = (await app.apply(chain(add.s(1, 1), unknown, mul.s(2)))) as AsyncResult;
    await assert.rejects(last.get(T), (err: unknown) => err instanceof RemoteTaskError && err.name === 'NotRegistered');
  });

  it('map and starmap run in one task; chunks is a group of starmaps', async () => {
    app.task('t.double', (_ctx, x: number) => x * 2);
    const doubled = (await app.apply(map('t.double', [1, 2, 3]))) as AsyncResult;
    assert.deepEqual(await doubled.get(T), [2, 4, 6]);
    const unknown = (await app.apply(map('t.nowhere', [1]))) as AsyncResult;
    await assert.rejects(unknown.get(T), (err: unknown) => err instanceof RemoteTaskError && err.name === 'NotRegistered');
    const sums = (await app.apply(starmap('t.add', [[1, 2], [3, 4]]))) as AsyncResult;
    assert.deepEqual(await sums.get(T), [3, 7]);
    const parts = await app.apply(chunks(add.s(), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]], 2));
    assert.ok(parts instanceof GroupResult);
    assert.deepEqual(await parts.join(T), [[2, 4], [6, 8], [10]]);
  });

  it('a workflow step of a task defined with a queue goes to that queue', async () => {
    const routed = app.task({ name: 't.routed', queue: 'routed-queue' }, (_ctx, x: number) => x);
    await app.apply(group(routed.s(1), add.s(1, 1)));
    const queues = broker.published.filter((p) => decodeTaskMessage(p.message).headers.task === 't.routed').map((p) => p.options.queue);
    assert.deepEqual(queues, ['routed-queue']);
    await assert.rejects(app.apply(add.s(1, 1), { priority: 12 }), /priority/);
  });

  it('call options on a signature reach the message', async () => {
    const res = (await app.apply(withOptions(add.s(2, 3), { priority: 7, taskId: 'fixed-id-1' }))) as AsyncResult;
    assert.equal(res.id, 'fixed-id-1');
    assert.equal(await res.get(T), 5);
    const [m] = messagesOf('fixed-id-1');
    assert.equal(m!.properties.priority, 7);
  });
});
