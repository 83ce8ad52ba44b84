/**
 * List elements that are not usable envelopes, pushed raw with LPUSH between good messages: each
 * is dead-lettered with its reason and its text, nothing of them is left in `unacked`, and the
 * consumer keeps delivering. (Celery 5.2 loses an envelope that is not JSON or not base64.)
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Inbox, eventually } from '@celeriac/testing';
import { PrefixScope, redisSkipReason, tagOf, taskMessage } from './broker-fixture.js';

const skip = await redisSkipReason();
const waits = { timeoutMs: 5000, quietMs: 300 };

const envelopeWith = (props: Record<string, unknown>, body: string) =>
  JSON.stringify({ body, 'content-encoding': 'utf-8', 'content-type': 'application/json', headers: { task: 't', id: 'x' }, properties: props });

const BAD: ReadonlyArray<readonly [string, string]> = [
  ['this is not json {', 'bad-message:envelope-not-json'],
  ['[1, 2, 3]', 'bad-message:envelope-no-properties'],
  ['"a JSON string"', 'bad-message:envelope-not-json'],
  ['{"body": "W10=", "headers": {}}', 'bad-message:envelope-no-properties'],
  [envelopeWith({ body_encoding: 'base64', delivery_info: { exchange: '', routing_key: 'bad' } }, 'W10='), 'bad-message:envelope-no-delivery-tag'],
  [envelopeWith({ body_encoding: 'base64', delivery_tag: 'tag-not-base64', delivery_info: { exchange: '', routing_key: 'bad' } }, '%%% not base64 %%%'), 'bad-message:body-not-base64'],
  [JSON.stringify({ body: 'W10=', headers: 'nope', properties: { delivery_tag: 'tag-bad-headers' } }), 'bad-message:envelope-headers'],
  // A tag the take script can read off the text, in something that is not JSON: recorded, then set aside.
  ['not JSON, "delivery_tag": "tag-in-broken-text"}}', 'bad-message:envelope-not-json'],
];

describe('redis broker: malformed list elements', { skip }, () => {
  // Each test has its own prefix: its own queues, bindings, unacked and dead letters.
  let scope: PrefixScope;
  beforeEach(() => {
    scope = new PrefixScope('malformed');
  });
  afterEach(() => scope.cleanup());

  it('are dead-lettered with their reason and raw text while the consumer keeps going', async () => {
    const broker = scope.broker();
    await broker.publish(taskMessage('good-1'), { queue: 'bad' });
    for (const [text] of BAD) await scope.redis.lpush(scope.key('bad'), text);
    await broker.publish(taskMessage('good-2'), { queue: 'bad' });

    const inbox = new Inbox();
    const consumer = await broker.consume(['bad'], inbox.onDelivery, { prefetch: 3 });
    await inbox.waitFor(2, waits);
    await broker.publish(taskMessage('good-3'), { queue: 'bad' });
    await inbox.waitFor(3, waits, 'a message published after the malformed ones');
    await consumer.cancel();
    assert.deepEqual(inbox.received.map((d) => tagOf(d.message)), ['good-1', 'good-2', 'good-3']);
    for (const d of inbox.received) await inbox.ack(d);

    await eventually(async () => (await broker.listDeadLetters({ queue: 'bad' })).length === BAD.length, waits.timeoutMs, 'every malformed element dead-lettered');
    const entries = await broker.listDeadLetters({ queue: 'bad' });
    // Envelope defects found by the take script and those found after it are set aside in two steps.
    const byText = (a: readonly (string | null)[], b: readonly (string | null)[]) => String(a[0]).localeCompare(String(b[0]));
    assert.deepEqual(entries.map((e) => [e.raw, e.reason.code]).sort(byText), BAD.map(([text, code]) => [text, code]).sort(byText));
    for (const e of entries) {
      assert.equal(e.message, null);
      assert.equal(e.queue, 'bad');
      assert.ok(e.reason.message.length > 0);
      assert.equal(await broker.replayDeadLetter(e.id), false, 'raw text cannot be replayed');
    }
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    assert.equal(await scope.redis.zcard(scope.key('unacked_index')), 0);
    assert.equal(await broker.size('bad'), 0);
    for (const e of entries) assert.equal(await broker.deleteDeadLetter(e.id), true);
    assert.deepEqual(await broker.listDeadLetters({ queue: 'bad' }), []);
  });

  it('are told apart from odd but valid envelopes: a header named delivery_tag, a tag with escapes', async () => {
    const broker = scope.broker();
    const odd = (tag: string, headers: Record<string, unknown>) =>
      JSON.stringify({ body: Buffer.from(taskMessage('odd').body).toString('base64'), 'content-encoding': 'utf-8', 'content-type': 'application/json', headers: { ...taskMessage(tag).headers, ...headers }, properties: { body_encoding: 'base64', delivery_tag: tag } });
    await scope.redis.lpush(scope.key('odd'), odd('real-tag', { delivery_tag: 'header-tag' }), odd('tag "with" \\ escapes', {}));
    const inbox = new Inbox();
    const consumer = await broker.consume(['odd'], inbox.onDelivery, { prefetch: 2 });
    const delivered = await inbox.waitFor(2, waits);
    await consumer.cancel();
    assert.deepEqual(delivered.map((d) => d.deliveryTag), ['real-tag', 'tag "with" \\ escapes']);
    assert.deepEqual((await scope.redis.hkeys(scope.key('unacked'))).sort(), ['real-tag', 'tag "with" \\ escapes'].sort());
    for (const d of delivered) await inbox.ack(d);
    assert.equal(await scope.redis.hlen(scope.key('unacked')), 0);
    assert.deepEqual(await broker.listDeadLetters({ queue: 'odd' }), []);
  });
});
