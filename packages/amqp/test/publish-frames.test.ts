/**
 * publish-frames.ts and its installation (fast-publish.ts) against the real amqplib and RabbitMQ
 * (a vhost of its own): the frames it writes are amqplib's, byte for byte, for Celery's task and result messages and for a thousand
 * generated header tables (every type amqplib picks or is told, nesting, non-ASCII text); what it
 * declines (large messages, exotic types, values amqplib refuses) goes through amqplib with
 * amqplib's own outcome; and messages published through it reach a consumer with the headers
 * and properties they were sent with.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type ChannelModel, type Options } from 'amqplib';
import { fastPublish } from '../src/fast-publish.js';
import { BASIC_PROPERTIES, BASIC_PUBLISH, encodePublish } from '../src/publish-frames.js';
import { typedHeaders } from '../src/amqp-fields.js';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const skip = await amqpSkipReason();
const scope = new VhostScope();

type Fields = Record<string, unknown>;
type SendMessage = (this: unknown, channel: number, method: number, fields: Fields, properties: number, props: Fields, content: Buffer) => boolean;

/** What amqplib's Args.publish hands to sendMessage for these options. */
function publishFields(exchange: string, routingKey: string, options: Options.Publish = {}): Fields {
  return {
    exchange, routingKey, mandatory: !!options.mandatory, immediate: false, ticket: undefined,
    contentType: options.contentType, contentEncoding: options.contentEncoding,
    headers: Object.create((options.headers as object | undefined) ?? null) as object,
    deliveryMode: options.persistent !== undefined ? (options.persistent ? 2 : 1) : options.deliveryMode, priority: options.priority,
    correlationId: options.correlationId, replyTo: options.replyTo, expiration: options.expiration?.toString(), messageId: options.messageId,
    timestamp: options.timestamp, type: options.type, userId: options.userId, appId: options.appId, clusterId: undefined,
  };
}

/** amqplib's own bytes for a publish (its sendMessage writing into a capture), or its error. */
function amqplibBytes(original: SendMessage, prototype: object, fields: Fields, content: Buffer): Buffer | Error {
  const chunks: Buffer[] = [];
  const capture = Object.assign(Object.create(prototype) as object, {
    channels: [null, { buffer: { write: (chunk: Buffer) => chunks.push(Buffer.from(chunk)) > 0 } }],
    sentSinceLastCheck: false,
    frameMax: 131072,
  });
  try {
    original.call(capture, 1, BASIC_PUBLISH, fields, BASIC_PROPERTIES, fields, content);
  } catch (err) {
    return err as Error;
  }
  return Buffer.concat(chunks);
}

/** A seeded generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

function generateValue(rnd: () => number, depth: number): unknown {
  const pick = Math.floor(rnd() * (depth > 2 ? 9 : 12));
  const texts = ['', 'a', 'tasks.add', 'ü€', '😀x', 'x'.repeat(65), 'é'.repeat(70), '0b6e9d3c-6f1a-4d7e-9c1b-2f0a8e4d5c6b'];
  const numbers = [0, 1, -1, 127, -128, 128, -129, 32767, -32768, 32768, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 40), 1.5, -0.25, 2 ** 52 + 0.5, 1e300];
  switch (pick) {
    case 0:
    case 1:
      return texts[Math.floor(rnd() * texts.length)];
    case 2:
      return numbers[Math.floor(rnd() * numbers.length)];
    case 3:
      return rnd() < 0.5;
    case 4:
      return null;
    case 5:
      return Buffer.from([Math.floor(rnd() * 256), 0, 255]);
    case 6:
      return { '!': 'int32', value: numbers[Math.floor(rnd() * 11)] };
    case 7:
      return { '!': 'int64', value: Math.floor(rnd() * 2 ** 53) };
    case 8:
      return { '!': 'double', value: rnd() };
    case 9:
      return Array.from({ length: Math.floor(rnd() * 4) }, () => generateValue(rnd, depth + 1));
    default:
      return generateTable(rnd, depth + 1);
  }
}

function generateTable(rnd: () => number, depth: number): Record<string, unknown> {
  const table: Record<string, unknown> = {};
  const keys = ['lang', 'task', 'id', 'eta', 'timelimit', 'ключ', 'k😀', 'x-death', 'argsrepr'];
  for (let i = Math.floor(rnd() * 6); i > 0; i--) table[`${keys[Math.floor(rnd() * keys.length)]}${i}`] = generateValue(rnd, depth);
  if (rnd() < 0.2) table['skipped'] = undefined;
  return table;
}

describe('amqp: publish frames encoded in one pass', { skip }, () => {
  let model: ChannelModel;
  let original: SendMessage;
  let prototype: object;
  before(async () => {
    await scope.create();
    model = await connect(scope.url());
    const connection = (model as unknown as { connection: { sendMessage: SendMessage } }).connection;
    original = connection.sendMessage;
    prototype = Object.getPrototypeOf(connection) as object;
  });
  after(async () => {
    await model?.close();
    await scope.cleanup();
  });

  it('writes what amqplib writes for a Celery task and result message', () => {
    const headers = typedHeaders({
      lang: 'py', task: 'tasks.add', id: 'f3a9', shadow: null, eta: null, expires: null, group: null, group_index: null, retries: 0,
      timelimit: [null, null], root_id: 'f3a9', parent_id: null, argsrepr: '(2, 2)', kwargsrepr: '{}', origin: 'gen1@host', ignore_result: false,
    });
    const task = publishFields('', 'celery', { contentType: 'application/json', contentEncoding: 'utf-8', headers, deliveryMode: 2, priority: 0, correlationId: 'f3a9', replyTo: 'r1' });
    const result = publishFields('', 'r1', { correlationId: 'f3a9', contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, priority: 0 });
    // amqplib sets CC and BCC on the object it wraps the headers in: own keys first, then the rest.
    const cc = publishFields('', 'celery', { headers: { BCC: 'old', a: 1, CC: 'shadowed' } });
    Object.assign(cc['headers'] as object, { CC: ['x'], BCC: ['y', 'z'] });
    for (const [fields, content] of [[task, Buffer.from('[[2, 2], {}, {}]')], [result, Buffer.from('{"status": "SUCCESS"}')], [result, Buffer.alloc(0)], [cc, Buffer.from('x')]] as const) {
      const ours = encodePublish(1, fields, fields, content);
      assert.ok(ours, 'encoded here');
      assert.deepEqual(ours, amqplibBytes(original, prototype, fields, content));
    }
  });

  it('writes what amqplib writes for a thousand generated header tables and property sets', () => {
    const rnd = random(42);
    let encoded = 0;
    for (let i = 0; i < 1000; i++) {
      const options: Options.Publish = { headers: generateTable(rnd, 0) };
      if (rnd() < 0.7) options.contentType = 'application/json';
      if (rnd() < 0.5) options.contentEncoding = rnd() < 0.5 ? 'utf-8' : 'binary';
      if (rnd() < 0.7) options.deliveryMode = rnd() < 0.5 ? 1 : 2;
      if (rnd() < 0.5) options.priority = Math.floor(rnd() * 10);
      if (rnd() < 0.7) options.correlationId = `c-${i}-ü`;
      if (rnd() < 0.3) options.replyTo = 'reply';
      if (rnd() < 0.2) options.expiration = String(i);
      if (rnd() < 0.2) options.messageId = `m${i}`;
      if (rnd() < 0.1) options.type = 'kind';
      if (rnd() < 0.1) options.appId = 'app';
      if (rnd() < 0.1) options.mandatory = true;
      const fields = publishFields(rnd() < 0.8 ? '' : 'ex', `q${i}`, options);
      const content = Buffer.from('x'.repeat(Math.floor(rnd() * 300)));
      const expected = amqplibBytes(original, prototype, fields, content);
      const ours = encodePublish(1, fields, fields, content);
      if (ours === null) continue; // declined: amqplib encodes it (see the next test)
      encoded++;
      assert.ok(Buffer.isBuffer(expected), `amqplib refused what was encoded here (table ${i}): ${String(expected)}`);
      assert.deepEqual(ours, expected, `table ${i}: ${JSON.stringify(options.headers)}`);
    }
    assert.ok(encoded > 900, `${encoded} of 1000 encoded here`);
  });

  it('leaves to amqplib what it does not encode itself, and amqplib\'s outcome stands', () => {
    const declined: Array<[string, Fields, Buffer]> = [
      ['a message of 2 KiB or more', publishFields('', 'q', {}), Buffer.alloc(3000, 1)],
      ['a timestamp property', publishFields('', 'q', { timestamp: 1_700_000_000 }), Buffer.from('x')],
      ['an unsigned header type', publishFields('', 'q', { headers: { n: { '!': 'uint16', value: 7 } } }), Buffer.from('x')],
      ['a header amqplib refuses', publishFields('', 'q', { headers: { n: 10n } }), Buffer.from('x')],
      ['a content type over 255 bytes', publishFields('', 'q', { contentType: 'x'.repeat(256) }), Buffer.from('x')],
      ['an int32 out of range', publishFields('', 'q', { headers: { n: { '!': 'int32', value: 2 ** 40 } } }), Buffer.from('x')],
    ];
    for (const [what, fields, content] of declined) assert.equal(encodePublish(1, fields, fields, content), null, what);
    assert.ok(amqplibBytes(original, prototype, declined[3]![1], declined[3]![2]) instanceof Error, 'amqplib refuses a bigint header');
  });

  it('once installed, messages arrive with the headers and properties they were sent with', async () => {
    const sender = await connect(scope.url());
    try {
      assert.equal(fastPublish(sender), true, 'amqplib internals as expected');
      assert.equal(fastPublish(sender), true, 'installing it twice is harmless');
      const channel = await sender.createConfirmChannel();
      await channel.assertQueue('frames', { durable: false });
      const headers = { task: 'tasks.add', retries: { '!': 'int32', value: 3 }, timelimit: [{ '!': 'int32', value: 300 }, null], nested: { a: 'ü' }, flag: true };
      for (let i = 0; i < 50; i++) channel.sendToQueue('frames', Buffer.from(`m${i}`), { headers, correlationId: `c${i}`, contentType: 'application/json', persistent: i % 2 === 0, priority: 3 });
      channel.sendToQueue('frames', Buffer.alloc(5000, 0x61), { headers });
      await channel.waitForConfirms();
      const reader = await model.createChannel();
      for (let i = 0; i < 50; i++) {
        const msg = await reader.get('frames', { noAck: true });
        assert.ok(msg, `message ${i}`);
        assert.equal(msg.content.toString(), `m${i}`);
        assert.equal(msg.properties.correlationId, `c${i}`);
        assert.equal(msg.properties.deliveryMode, i % 2 === 0 ? 2 : 1);
        assert.equal(msg.properties.priority, 3);
        assert.deepEqual(msg.properties.headers, { task: 'tasks.add', retries: 3, timelimit: [300, null], nested: { a: 'ü' }, flag: true });
      }
      const large = await reader.get('frames', { noAck: true });
      assert.ok(large && large.content.length === 5000, 'the large message, through amqplib');
      await reader.close();
    } finally {
      await sender.close();
    }
  });
});
