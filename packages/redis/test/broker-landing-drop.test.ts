/**
 * Landing lists (src/landing.ts) across a dropped connection: a wait that ran (its BLMOVE moved a
 * message into the consumer's landing list) but whose reply was lost. ioredis sends the wait again
 * once the connection is back and the first one's message is seen by nobody; the consumer must
 * notice the drop and give that message back, so it is delivered. Through a proxy that holds
 * back Redis's replies and then cuts every connection.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Inbox, eventually } from '@celeriac/testing';
import { cuttingProxy, type CuttingProxy } from './cutting-proxy.js';
import { PrefixScope, REDIS_URL, redisSkipReason, taskMessage, tagOf } from './broker-fixture.js';

const skip = await redisSkipReason();
const waits = { timeoutMs: 10_000, quietMs: 0 };

describe('redis broker: a wait whose reply was lost to a dropped connection', { skip }, () => {
  let proxy: CuttingProxy;
  let scope: PrefixScope;
  beforeEach(async () => {
    const server = new URL(REDIS_URL);
    proxy = await cuttingProxy({ host: server.hostname, port: Number(server.port || 6379) });
    scope = new PrefixScope('landing-drop', `redis://127.0.0.1:${proxy.port}${server.pathname}`);
  });
  afterEach(async () => {
    proxy.cutAll();
    await scope.cleanup();
    await proxy.close();
  });

  it('gives the message it moved back to the queue and delivers it, before and after another one', async () => {
    const broker = scope.broker({ visibilityTimeout: 1 });
    const inbox = new Inbox();
    const consumer = await broker.consume(['q'], inbox.onDelivery, { prefetch: 4 });
    await eventually(async () => (await scope.redis.scard(scope.key('celeriac.landings'))) === 1, waits.timeoutMs, 'the consumer to wait');
    const [member] = await scope.redis.smembers(scope.key('celeriac.landings'));
    const list = scope.key(`celeriac.landing.${member}`);
    // The wait moves A into the landing list; its reply never arrives; every connection drops.
    proxy.hold(true);
    await scope.redis.lpush(scope.key('q'), envelopeText('A'));
    await eventually(async () => (await scope.redis.llen(list)) === 1, waits.timeoutMs, 'A to land');
    proxy.cutAll();
    proxy.hold(false);
    await inbox.waitFor(1, waits, 'A, given back and waited for again');
    await scope.redis.lpush(scope.key('q'), envelopeText('B'));
    await inbox.waitFor(2, waits, 'B after it');
    assert.deepEqual(inbox.received.map((d) => tagOf(d.message)), ['A', 'B']);
    // A went back unmarked: nobody had seen it.
    assert.equal(inbox.received[0]!.redelivered, false);
    for (const d of inbox.received) await inbox.ack(d);
    await eventually(async () => (await scope.redis.llen(list)) === 0, waits.timeoutMs, 'the acks to empty the landing list');
    assert.equal(await scope.redis.llen(scope.key('q')), 0);
    await consumer.cancel();
  });
});

/** The envelope kombu would push for `taskMessage(tag)` onto queue `q`. */
function envelopeText(tag: string): string {
  const m = taskMessage(tag);
  return JSON.stringify({
    body: Buffer.from(m.body as string).toString('base64'),
    'content-encoding': m.contentEncoding,
    'content-type': m.contentType,
    headers: m.headers,
    properties: { ...m.properties, delivery_info: { exchange: '', routing_key: 'q' }, priority: 0, body_encoding: 'base64', delivery_tag: `tag-${tag}` },
  });
}
