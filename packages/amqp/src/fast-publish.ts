/**
 * Installs publish-frames.ts's encoder on an amqplib connection: `connection.sendMessage` is
 * wrapped so that a `basic.publish` it can encode goes to the channel's buffer as one chunk, and
 * anything it declines goes through amqplib's own `sendMessage` unchanged.
 *
 * The bytes are amqplib's by construction and by check: `fastPublish()` first encodes a set of
 * sample messages both ways (through amqplib's own `sendMessage`, writing into a capture) and
 * installs nothing unless every byte agrees (once per amqplib connection prototype).
 *
 * This reaches into amqplib 2.x internals (`connection.sendMessage`, `connection.channels`), as
 * coalesce-writes.ts does; where they are not what is expected, nothing is changed.
 */
import type { ChannelModel } from 'amqplib';
import { BASIC_PROPERTIES, BASIC_PUBLISH, encodePublish, type PublishFields } from './publish-frames.js';

type SendMessage = (channel: number, method: number, fields: PublishFields, properties: number, props: PublishFields, content: Buffer) => boolean;

interface Internals {
  readonly connection?: {
    sendMessage?: SendMessage;
    channels?: unknown;
    __celeriacFastPublish?: boolean;
  };
}

interface ConnectionThis {
  channels: Array<{ buffer: { write(chunk: Buffer): boolean } } | undefined>;
  sentSinceLastCheck: boolean;
}

/** Sample publishes the installed encoder must write exactly as amqplib does. */
function samples(): Array<[PublishFields, Buffer]> {
  const publish = (exchange: string, routingKey: string, props: Record<string, unknown>): PublishFields => ({
    exchange, routingKey, mandatory: false, immediate: false, ticket: undefined,
    contentType: undefined, contentEncoding: undefined, deliveryMode: undefined, priority: undefined, correlationId: undefined,
    replyTo: undefined, expiration: undefined, messageId: undefined, timestamp: undefined, type: undefined, userId: undefined,
    appId: undefined, clusterId: undefined, ...props,
    headers: Object.create((props['headers'] as object | undefined) ?? null) as object,
  });
  const celery = {
    lang: 'py', task: 'tasks.add', id: '0b6e9d3c-6f1a-4d7e-9c1b-2f0a8e4d5c6b', shadow: null, eta: '2024-01-02T03:04:05.678000+00:00',
    expires: null, group: null, group_index: null, retries: { '!': 'int32', value: 3 }, timelimit: [{ '!': 'int32', value: 300 }, null],
    root_id: '0b6e9d3c-6f1a-4d7e-9c1b-2f0a8e4d5c6b', parent_id: null, argsrepr: '(2, 2)', kwargsrepr: "{'x': 'ü€😀'}",
    origin: 'gen123@host', ignore_result: false, undefinedKey: undefined,
    stamps: { nested: [1, -1, 200, -40000, 70000, 2 ** 40, -(2 ** 40), 1.5, true, Buffer.from([0, 1, 255])], 'ключ': 'значение' },
    big: { '!': 'int64', value: 2 ** 53 - 1 }, plain: 5_000_000_000, d: { '!': 'double', value: 3 }, s: { '!': 'string', value: 'x' },
  };
  return [
    [publish('', 'celery', { contentType: 'application/json', contentEncoding: 'utf-8', headers: celery, deliveryMode: 2, priority: 0, correlationId: celery.id, replyTo: 'b5f1e0d2-reply' }), Buffer.from('[[2, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]')],
    [publish('', 'reply-queue', { correlationId: 'x', contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, priority: 0 }), Buffer.from('{"task_id": "x", "status": "SUCCESS", "result": null, "traceback": null, "children": []}')],
    [publish('ex.ü', 'rk', { mandatory: true, expiration: '1500', messageId: 'm-1', type: 't', userId: 'guest', appId: 'app', headers: {} }), Buffer.alloc(0)],
    [publish('', 'q', { contentType: null, priority: 9, headers: { a: 'é'.repeat(40), b: 'a'.repeat(70) } }), Buffer.from('é')],
  ];
}

/** Whether our frames equal amqplib's for every sample, written through `original` into a capture. */
function agreesWith(original: SendMessage, prototype: object): boolean {
  try {
    for (const [fields, content] of samples()) {
      const chunks: Buffer[] = [];
      const capture = Object.assign(Object.create(prototype) as object, {
        channels: [undefined, { buffer: { write: (chunk: Buffer) => chunks.push(Buffer.from(chunk)) > 0 } }],
        sentSinceLastCheck: false,
        frameMax: 131072,
      });
      original.call(capture, 1, BASIC_PUBLISH, fields, BASIC_PROPERTIES, fields, content);
      const ours = encodePublish(1, fields, fields, content);
      if (!ours || chunks.length !== 1 || !ours.equals(Buffer.concat(chunks))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

const verified = new WeakMap<object, boolean>();

/** Publishes on `model` go through encodePublish (see the header); returns whether they do. */
export function fastPublish(model: ChannelModel): boolean {
  const connection = (model as unknown as Internals).connection;
  const original = connection?.sendMessage;
  if (!connection || typeof original !== 'function' || !Array.isArray(connection.channels)) return false;
  if (connection.__celeriacFastPublish) return true;
  const prototype = Object.getPrototypeOf(connection) as object | null;
  if (!prototype) return false;
  let agrees = verified.get(prototype);
  if (agrees === undefined) verified.set(prototype, (agrees = agreesWith(original, prototype)));
  if (!agrees) return false;
  connection.__celeriacFastPublish = true;
  connection.sendMessage = function fastSendMessage(this: ConnectionThis, channel, method, fields, properties, props, content) {
    if (method === BASIC_PUBLISH && properties === BASIC_PROPERTIES && Buffer.isBuffer(content)) {
      const ch = this.channels[channel];
      const frames = ch ? encodePublish(channel, fields, props, content) : null;
      if (ch && frames) {
        this.sentSinceLastCheck = true;
        return ch.buffer.write(frames);
      }
    }
    return original.call(this, channel, method, fields, properties, props, content);
  };
  return true;
}
