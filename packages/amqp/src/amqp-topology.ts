/**
 * The exchanges and queues celeriac declares, with exactly Celery 5.2's flags and arguments, so
 * that a Python worker or client declaring the same names never meets a 406 PRECONDITION_FAILED
 * (docs/notes/amqp-research.md §1, shared/celery-wire-protocol.md §3.1):
 *
 * - a task queue `q`: direct exchange `q` (durable, not auto-delete, no arguments), queue `q`
 *   (durable, not exclusive, not auto-delete; `x-max-priority` only when configured, which must
 *   then match the Python side's `task_queue_max_priority`), bound with routing key `q`. Tasks
 *   are published to the default exchange with the queue as routing key, as Celery does.
 * - dead letters: fanout exchange `celeriac.dlx` and queue `celeriac.dead-letters` bound to it,
 *   both durable. Nothing of Celery's refers to them.
 */
import { ConfigError } from '@celeriac/core';
import type { Channel } from 'amqplib';

export const DEAD_LETTER_EXCHANGE = 'celeriac.dlx';
export const DEAD_LETTER_QUEUE = 'celeriac.dead-letters';

/** Declares a task queue (see the header). A 406 becomes a ConfigError that says what differs. */
export async function declareTaskQueue(channel: Channel, queue: string, maxPriority: number): Promise<void> {
  try {
    await channel.assertExchange(queue, 'direct', { durable: true, autoDelete: false });
    const args: Record<string, unknown> = {};
    if (maxPriority > 0) args['x-max-priority'] = { '!': 'int32', value: maxPriority };
    await channel.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false, arguments: args });
    await channel.bindQueue(queue, queue, queue);
  } catch (err) {
    throw preconditionError(err, `queue "${queue}"`, maxPriority);
  }
}

export async function declareDeadLetters(channel: Channel): Promise<void> {
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true, autoDelete: false });
  await channel.assertQueue(DEAD_LETTER_QUEUE, { durable: true, exclusive: false, autoDelete: false });
  await channel.bindQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, '');
}

function preconditionError(err: unknown, what: string, maxPriority: number): unknown {
  const text = err instanceof Error ? err.message : String(err);
  if (!text.includes('PRECONDITION_FAILED')) return err;
  const ours = maxPriority > 0 ? `durable, x-max-priority ${maxPriority}` : 'durable, no arguments';
  return new ConfigError(
    `RabbitMQ refused to declare ${what} as celeriac does (${ours}, as Celery 5.2 declares it): it exists with other settings. ` +
      `Make the max_priority URL option match the queue's x-max-priority (Celery's task_queue_max_priority), ` +
      `or delete the queue if nothing needs it. Server said: ${text}`,
    { cause: err },
  );
}
