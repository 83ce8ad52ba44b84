/**
 * Nothing lost, nothing crashed, when malformed messages land on a running worker's queue: raw
 * elements LPUSHed straight onto the queue list (envelopes built with kombu's layout, each with one
 * defect, plus one that is not JSON at all) between good tasks. Each bad message is set aside with
 * its own reason code (Broker.listDeadLetters: one entry per message), every good task sent before,
 * between and after them succeeds, and the worker stays 'running' throughout. (Celery 5.2 loses a
 * non-JSON element and crashes on a body of the wrong shape or a missing id.)
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { App, Worker, silentLogger, type RawMessage } from '@celeriac/core';
import { eventually } from '@celeriac/testing';
import { encodeEnvelope } from '@celeriac/redis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './broker-fixture.js';
import { statuses } from './chaos-fixture.js';

const skip = await redisSkipReason();
const QUEUE = 'chaos-malformed';

/** A protocol v2 task message (JSON body), with `change` applied; `chaos_case` names the case. */
function message(name: string, change: (m: { headers: Record<string, unknown>; body: unknown; contentType: string }) => void): RawMessage {
  const id = randomUUID();
  const m = {
    headers: { lang: 'js', task: 'chaos.echo', id, retries: 0, timelimit: [null, null], root_id: id, parent_id: null, chaos_case: name } as Record<string, unknown>,
    body: [['bad'], {}, { callbacks: null, errbacks: null, chain: null, chord: null }] as unknown,
    contentType: 'application/json',
  };
  change(m);
  return {
    headers: m.headers,
    properties: { correlation_id: id, reply_to: 'chaos', delivery_mode: 2 },
    body: JSON.stringify(m.body),
    contentType: m.contentType,
    contentEncoding: 'utf-8',
  };
}

/** The list element as kombu would write it (a fresh delivery tag; priority 0). */
const envelope = (m: RawMessage) => encodeEnvelope(m, { queue: QUEUE, priority: 0, deliveryTag: randomUUID() });

/** Each case: the raw element pushed, and the reason code it must be dead-lettered with. */
const BAD: ReadonlyArray<{ name: string; element: string; code: string }> = [
  { name: 'not-json', element: '{"body": "W10=", "properties": {"delivery_tag": ', code: 'bad-message:envelope-not-json' },
  // The body (base64 of `[[],{}]`) has two elements where Celery's protocol v2 has three.
  { name: 'two-element-body', element: envelope(message('two-element-body', (m) => void (m.body = [[], {}]))), code: 'bad-message:body-shape' },
  { name: 'pickle', element: envelope(message('pickle', (m) => void (m.contentType = 'application/x-python-serialize'))), code: 'bad-message:content-type' },
  { name: 'unknown-task', element: envelope(message('unknown-task', (m) => void (m.headers['task'] = 'chaos.no-such-task'))), code: 'not-registered' },
  { name: 'no-id', element: envelope(message('no-id', (m) => void delete m.headers['id'])), code: 'bad-message:missing-header' },
];

describe('chaos: malformed messages on a running worker\'s queue', { skip }, () => {
  // This test's own prefix on the shared Redis: queue, unacked, dead letters and results.
  const prefix = uniquePrefix('chaos-malformed');
  const url = withPrefix(REDIS_URL, prefix);
  const redis = rawClient();
  const app = new App({ broker: url, backend: url, logger: silentLogger });
  const echo = app.task({ name: 'chaos.echo', params: ['x'], queue: QUEUE }, (_ctx, x: string) => x);
  const worker = Worker.create(app, { queues: [QUEUE], concurrency: 2 });
  let running: Promise<void> | null = null;

  after(async () => {
    await worker.shutdown();
    await running?.catch(() => undefined);
    await app.close();
    await deletePrefixed(redis, prefix);
    redis.disconnect();
  });

  it('are each set aside with their reason while the worker keeps going', async () => {
    running = worker.run();
    await eventually(() => worker.state === 'running', 10_000, 'the worker to be running');
    const stateSeen = new Set<string>();
    const watchState = setInterval(() => stateSeen.add(worker.state), 5);
    try {
      const good: string[] = [];
      const sendGood = async (label: string) => good.push(...(await echo.applyMany([{ args: [`${label}-1`] }, { args: [`${label}-2`] }])).map((r) => r.id));
      await sendGood('before');
      await eventually(async () => [...(await statuses(app.backend!, good)).values()].every((s) => s === 'SUCCESS'), 10_000, 'the first good tasks');
      for (const bad of BAD) {
        await redis.lpush(`${prefix}${QUEUE}`, bad.element);
        await sendGood(`after-${bad.name}`);
      }
      await eventually(async () => (await app.broker.listDeadLetters({ queue: QUEUE })).length >= BAD.length, 10_000, 'every bad message set aside');
      await sendGood('last');

      await eventually(async () => [...(await statuses(app.backend!, good)).values()].every((s) => s === 'SUCCESS'), 10_000, 'every good task to succeed');
      const results = await Promise.all(good.map((id) => app.asyncResult(id).get({ timeout: 1000 })));
      assert.equal(results.length, 2 + 2 * BAD.length + 2);

      const entries = await app.broker.listDeadLetters({ queue: QUEUE });
      const caseOf = (e: (typeof entries)[number]) => (e.message ? String(e.message.headers['chaos_case']) : BAD.find((b) => b.element === e.raw)?.name);
      assert.deepEqual(
        entries.map((e) => [caseOf(e), e.reason.code]).sort(),
        BAD.map((b) => [b.name, b.code]).sort(),
        'one dead letter per bad message, each with its specific reason',
      );
      for (const e of entries) assert.ok(e.reason.message.length > 0, `dead letter ${e.reason.code} says why`);

      // The unknown task also gets Celery's FAILURE result (NotRegistered) under its id.
      const unknown = entries.find((e) => e.reason.code === 'not-registered')!;
      const meta = await app.backend!.get(String(unknown.message!.headers['id']));
      assert.equal(meta?.status, 'FAILURE');
      assert.equal((meta?.result as { exc_type?: string } | null)?.exc_type, 'NotRegistered');

      assert.equal(worker.state, 'running', 'the worker is still running');
      assert.deepEqual([...stateSeen], ['running'], 'the worker never left the running state');
      // The non-JSON element is set aside by the broker before the worker sees it; the other four by the worker.
      assert.equal(worker.stats.deadLettered, BAD.length - 1);
      assert.equal(worker.stats.succeeded, good.length);
      assert.equal(worker.stats.failed, 0);
      assert.equal(await app.broker.size(QUEUE), 0, 'nothing left on the queue');
      await eventually(async () => (await redis.hlen(`${prefix}unacked`)) === 0, 5000, 'nothing left in unacked');
    } finally {
      clearInterval(watchState);
    }
  });
});
