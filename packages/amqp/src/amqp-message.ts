/**
 * A task message on AMQP, as kombu's py-amqp transport carries it (shared/celery-wire-protocol.md
 * §3.2): the body is the serialized payload itself (no envelope, no base64), the content type and
 * encoding are the message's own properties, the headers are the task headers (typed for py-amqp,
 * amqp-fields.ts), and Celery's properties map onto AMQP's: `correlation_id`, `reply_to`,
 * `delivery_mode` (2 = persistent, the default), `priority` (always sent, 0 unless given, as
 * kombu does), `expiration` (milliseconds as a string, from `expires`). AMQP has no room for other
 * properties: they are not carried (Celery sends none).
 */
import type { RawMessage } from '@celeriac/core';
import type { Message, Options } from 'amqplib';
import { plainField, typedHeaders } from './amqp-fields.js';

/** What amqplib's publish takes for `message`, with the priority the publish asked for. */
export function publishOptions(message: RawMessage, priority: number): Options.Publish {
  const p = message.properties;
  const options: Options.Publish = {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: typedHeaders(message.headers),
    deliveryMode: p['delivery_mode'] === 1 ? 1 : 2,
    priority,
  };
  if (typeof p['correlation_id'] === 'string') options.correlationId = p['correlation_id'];
  if (typeof p['reply_to'] === 'string' && p['reply_to'] !== '') options.replyTo = p['reply_to'];
  const expiration = p['expiration'];
  if (typeof expiration === 'string' || typeof expiration === 'number') options.expiration = String(Math.max(0, Math.trunc(Number(expiration))));
  if (typeof p['message_id'] === 'string') options.messageId = p['message_id'];
  if (typeof p['type'] === 'string') options.type = p['type'];
  if (typeof p['app_id'] === 'string') options.appId = p['app_id'];
  return options;
}

/** The transport-neutral message of a delivery (or a basic.get). */
export function fromAmqp(msg: Message): RawMessage {
  const props = msg.properties;
  const properties: Record<string, unknown> = {};
  if (props.correlationId !== undefined) properties['correlation_id'] = String(props.correlationId);
  if (props.replyTo !== undefined) properties['reply_to'] = String(props.replyTo);
  properties['delivery_mode'] = props.deliveryMode ?? 1;
  if (props.priority !== undefined) properties['priority'] = props.priority;
  if (props.expiration !== undefined) properties['expiration'] = String(props.expiration);
  if (props.messageId !== undefined) properties['message_id'] = String(props.messageId);
  if (props.type !== undefined) properties['type'] = String(props.type);
  if (props.appId !== undefined) properties['app_id'] = String(props.appId);
  return {
    headers: (plainField(props.headers ?? {}) ?? {}) as Record<string, unknown>,
    properties,
    body: msg.content.toString('utf8'),
    contentType: props.contentType === undefined ? '' : String(props.contentType),
    contentEncoding: props.contentEncoding === undefined ? '' : String(props.contentEncoding),
  };
}
