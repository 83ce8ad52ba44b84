/**
 * The AMQP rows of the bench: each runs the end-to-end scenario on RabbitMQ, in a vhost of its
 * own (amqp-server.ts): a worker process already consuming; the clock runs from the first publish
 * until the producer has every task's result. Every row publishes its tasks persistent (delivery
 * mode 2) to a durable queue with publisher confirms, acknowledges early, and sends each result
 * back to the producer's reply queue as a non-persistent message (Celery's rpc:// backend; the raw
 * loop does the same by hand), so they compare like with like.
 */
import type { EndToEndFigures, ScenarioConfig, Traits } from '../contestant.js';

export interface AmqpRow {
  readonly name: string;
  readonly traits: Traits;
  endToEnd(config: ScenarioConfig): Promise<EndToEndFigures>;
}

export const AMQP_ROW_NAMES = ['celeriac-amqp', 'raw-amqplib', 'celery-py-amqp'] as const;

export const AMQP_DURABILITY = 'durable queue, persistent messages, publisher confirms';
