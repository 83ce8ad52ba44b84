/**
 * kombu's envelope and key layout, pure (no Redis): against the envelopes real Celery 5.2.6 /
 * kombu 5.2.4 pushed to Redis (packages/core/test/fixtures/celery-5.2, captured, never edited).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildTaskMessage, encodeTaskMessage } from '@celeriac/core';
import {
  bindingMember,
  bucketName,
  decodeEnvelope,
  encodeEnvelope,
  KombuKeys,
  markRedelivered,
  priorityStep,
  publishPriority,
} from '@celeriac/redis';

interface Fixture {
  case: string;
  redis_list?: string;
  envelope: { properties: Record<string, unknown>; headers: Record<string, unknown>; [key: string]: unknown };
  body_text: string;
}
const dir = new URL('../../core/test/fixtures/celery-5.2/', import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.startsWith('task-'))
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Fixture);
const plain = fixtures.find((f) => f.case === 'plain')!;

describe('kombu envelope', () => {
  it('has fixtures to compare with', () => {
    assert.ok(fixtures.length >= 8, `found ${fixtures.length} task fixtures`);
  });

  for (const fixture of fixtures) {
    it(`decodes and re-encodes the captured "${fixture.case}" envelope exactly (keys, order, values)`, () => {
      const text = JSON.stringify(fixture.envelope);
      const decoded = decodeEnvelope(text);
      assert.ok(decoded.ok, `not decoded: ${JSON.stringify(decoded)}`);
      assert.equal(decoded.message.body, fixture.body_text);
      assert.deepEqual(decoded.message.headers, fixture.envelope.headers);
      assert.equal(decoded.deliveryTag, fixture.envelope.properties['delivery_tag']);
      assert.equal('body_encoding' in decoded.message.properties, false);
      assert.equal('delivery_tag' in decoded.message.properties, false);
      const props = fixture.envelope.properties;
      const info = props['delivery_info'] as { routing_key: string };
      const again = encodeEnvelope(decoded.message, {
        queue: info.routing_key,
        priority: decoded.priority,
        deliveryTag: decoded.deliveryTag,
      });
      // Same text once both are compact JSON: same keys, same order, same values.
      assert.equal(again, text);
    });
  }

  it('writes a celeriac task message in the shape kombu writes a Celery one', () => {
    const message = encodeTaskMessage(buildTaskMessage({ task: 'proj.add', id: 'a7c3e5a4-1d0b-4a45-9d8e-4c2b9e0f0001', args: [2, 3], origin: 'gen1@host', replyTo: 'b98e933e-805c-351f-aeca-95f6923a592a', now: new Date() }));
    const envelope = JSON.parse(encodeEnvelope(message, { queue: 'celery', priority: 0, deliveryTag: '165fabf4-17fe-4102-87b2-240c1f28d47f' })) as Fixture['envelope'];
    assert.deepEqual(Object.keys(envelope), Object.keys(plain.envelope));
    assert.deepEqual(Object.keys(envelope.headers), Object.keys(plain.envelope.headers));
    assert.deepEqual(Object.keys(envelope.properties), Object.keys(plain.envelope.properties));
    assert.deepEqual(envelope.properties['delivery_info'], { exchange: '', routing_key: 'celery' });
    assert.equal(envelope.properties['priority'], 0);
    assert.equal(envelope.properties['body_encoding'], 'base64');
    assert.equal(Buffer.from(envelope['body'] as string, 'base64').toString('utf8'), message.body);
    assert.equal(envelope['content-type'], 'application/json');
    assert.equal(envelope['content-encoding'], 'utf-8');
  });

  it('takes the priority from the publish option, else the message, clamped to 0-9', () => {
    const m = encodeTaskMessage(buildTaskMessage({ task: 't', id: 'x', origin: 'o', replyTo: 'r', priority: 7, now: new Date() }));
    assert.equal(publishPriority(m, undefined), 7);
    assert.equal(publishPriority(m, 2), 2);
    assert.equal(publishPriority(m, 42), 9);
    assert.equal(publishPriority({ ...m, properties: {} }, undefined), 0);
    assert.equal(publishPriority({ ...m, properties: {} }, -1), 0);
  });

  it('reads a body without body_encoding verbatim, and rejects a body that is not base64', () => {
    const base = { ...plain.envelope, properties: { ...plain.envelope.properties } };
    delete base.properties['body_encoding'];
    const verbatim = decodeEnvelope(JSON.stringify({ ...base, body: '[[1, 2], {}, {}]' }));
    assert.ok(verbatim.ok);
    assert.equal(verbatim.message.body, '[[1, 2], {}, {}]');
    const notBase64 = decodeEnvelope(JSON.stringify({ ...plain.envelope, body: '[[1, 2], {}, {}]' }));
    assert.deepEqual(notBase64.ok ? null : notBase64.code, 'bad-message:body-not-base64');
  });

  it('names each defect of an element that is not a usable envelope', () => {
    const code = (text: string) => {
      const d = decodeEnvelope(text);
      return d.ok ? 'ok' : d.code;
    };
    assert.equal(code('{not json'), 'bad-message:envelope-not-json');
    assert.equal(code('[1, 2]'), 'bad-message:envelope-not-json');
    assert.equal(code('{"body": ""}'), 'bad-message:envelope-no-properties');
    assert.equal(code('{"body": "", "properties": {}}'), 'bad-message:envelope-no-delivery-tag');
    assert.equal(code('{"body": "", "headers": [], "properties": {"delivery_tag": "t"}}'), 'bad-message:envelope-headers');
    assert.equal(code('{"body": 5, "properties": {"delivery_tag": "t"}}'), 'bad-message:envelope-body');
  });

  it('keeps a binary body byte for byte', () => {
    const bytes = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    const m = { headers: {}, properties: {}, body: bytes, contentType: 'application/x-msgpack', contentEncoding: 'binary' };
    const d = decodeEnvelope(encodeEnvelope(m, { queue: 'q', priority: 0, deliveryTag: 't' }));
    assert.ok(d.ok);
    assert.equal(d.message.body, bytes);
  });

  it('marks a restored message redelivered in headers and delivery_info, as kombu does', () => {
    const marked = JSON.parse(markRedelivered(JSON.stringify(plain.envelope))) as Fixture['envelope'];
    assert.equal(marked.headers['redelivered'], true);
    assert.deepEqual(marked.properties['delivery_info'], { ...(plain.envelope.properties['delivery_info'] as object), redelivered: true });
    assert.equal(marked.properties['delivery_tag'], plain.envelope.properties['delivery_tag']);
    const d = decodeEnvelope(JSON.stringify(marked));
    assert.ok(d.ok && d.redelivered);
  });
});

describe('kombu key layout', () => {
  it('maps priorities to the largest step at or below them, clamped to 0-9', () => {
    const steps = [-5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255].map((p) => priorityStep(p));
    assert.deepEqual(steps, [0, 0, 0, 0, 3, 3, 3, 6, 6, 6, 9, 9, 9]);
    assert.equal(priorityStep(undefined), 0);
  });

  it('names the lists, bindings and fanout channels as kombu does, prefix on keys only', () => {
    assert.equal(bucketName('celery', 0), 'celery');
    assert.equal(bucketName('celery', 6), 'celery\x06\x166');
    assert.equal(bindingMember('celery', '', 'celery'), 'celery\x06\x16\x06\x16celery');
    const keys = new KombuKeys('p:', 3);
    assert.deepEqual(keys.lists('q'), ['p:q', 'p:q\x06\x163', 'p:q\x06\x166', 'p:q\x06\x169']);
    assert.equal(keys.list('q', 5), 'p:q\x06\x163');
    assert.equal(keys.binding('q'), 'p:_kombu.binding.q');
    assert.deepEqual([keys.unacked, keys.unackedIndex, keys.unackedMutex], ['p:unacked', 'p:unacked_index', 'p:unacked_mutex']);
    assert.equal(keys.fanoutChannel('celeryev', 'task.multi'), 'p:/3.celeryev/task.multi');
    assert.equal(keys.fanoutChannel('celery.pidbox'), 'p:/3.celery.pidbox');
  });
});
