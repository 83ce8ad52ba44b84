/**
 * The worker of the raw amqplib row (raw-amqp.ts): `raw-consumer-child.ts <url> <queue> <prefetch>`.
 * Consumes the durable queue with `basic.qos(prefetch)`, acknowledges each message as it arrives
 * (early, as Celery's and celeriac's default), and publishes a reply to its `reply_to` with its
 * `correlation_id` on a confirm channel (non-persistent, as Celery's rpc results): the least a
 * task queue with rpc-style results does per task, with no task protocol at all.
 */
import { connect, type ConsumeMessage } from 'amqplib';
import { serveWorker } from '../worker-child-protocol.js';

serveWorker(async ([url, queue, prefetchText]) => {
  if (!url || !queue) throw new Error('usage: raw-consumer-child.ts <url> <queue> <prefetch>');
  const conn = await connect(url);
  const consume = await conn.createChannel();
  const replies = await conn.createConfirmChannel();
  await consume.assertQueue(queue, { durable: true });
  await consume.prefetch(Number(prefetchText ?? 100), true);
  let succeeded = 0;
  let tag: string | null = null;
  const reply = Buffer.from(JSON.stringify({ status: 'SUCCESS', result: null, traceback: null, children: [] }));
  const onMessage = (msg: ConsumeMessage | null) => {
    if (!msg) return;
    consume.ack(msg);
    replies.publish('', String(msg.properties.replyTo), reply, { correlationId: msg.properties.correlationId, deliveryMode: 1, contentType: 'application/json' });
    succeeded++;
  };
  return {
    async start() {
      tag = (await consume.consume(queue, onMessage, { noAck: false })).consumerTag;
    },
    async stop() {
      if (tag) await consume.cancel(tag);
      await replies.waitForConfirms();
      await conn.close();
      return { succeeded };
    },
  };
});
