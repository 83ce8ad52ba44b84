/**
 * The broker contract: queues, at the level a worker and a client need them. Publish, consume with
 * a prefetch limit, ack, reject (with or without requeue), purge, size, and a dead-letter store.
 * Everything else a transport can do is an optional capability, declared in `capabilities`.
 *
 * Every broker runs the conformance suite in `@celeriac/testing`.
 */
import { ConfigError } from '../errors.js';
import type { RawMessage } from '../protocol/task-message.js';

export interface BrokerCapabilities {
  /** The broker holds a message until `notBefore` (countdown/ETA) instead of the worker holding it. */
  readonly nativeDelay: boolean;
  /** Message priorities are honoured. */
  readonly priority: boolean;
  /**
   * Which priorities go first. Celery on RabbitMQ serves the highest number first; on Redis the
   * lowest. celeriac's own brokers (memory, SQLite) serve the highest number first, like AMQP.
   */
  readonly priorityOrder: 'higher-first' | 'lower-first';
  /** Fanout exchanges (events, broadcast control). */
  readonly fanout: boolean;
  /** Dead-lettering is done by the server itself (RabbitMQ's DLX). */
  readonly nativeDeadLetter: boolean;
  /** Messages survive a broker restart. */
  readonly persistent: boolean;
  /** Other processes can share the broker (false only for the in-memory broker). */
  readonly shared: boolean;
}

export interface PublishOptions {
  /** The queue (routing key on the default exchange). */
  readonly queue: string;
  /** 0–9. See `capabilities.priorityOrder`. */
  readonly priority?: number;
  /** Do not deliver before this instant (countdown/ETA). Brokers without `nativeDelay` ignore it. */
  readonly notBefore?: Date | null;
}

export interface OutgoingMessage {
  readonly message: RawMessage;
  readonly options: PublishOptions;
}

/**
 * A message handed to a consumer. Settle it exactly once: ack, reject or deadLetter (with the
 * broker that delivered it). Settling after the broker closed does nothing: the message went back.
 */
export interface Delivery {
  readonly message: RawMessage;
  readonly queue: string;
  /** Unique per delivery attempt store entry; stable across redeliveries on Celery-layout brokers. */
  readonly deliveryTag: string;
  /** True when the message was delivered before and not acknowledged. */
  readonly redelivered: boolean;
  readonly priority: number;
  ack(): Promise<void>;
  /** Give the message back (`requeue`) or drop it. */
  reject(requeue: boolean): Promise<void>;
}

export interface ConsumeOptions {
  /** At most this many delivered-but-unsettled messages at once. At least 1 (0 is not "unlimited"). */
  readonly prefetch: number;
}

export interface Consumer {
  /** Changes the prefetch limit (the worker raises it by one per held ETA task, as Celery does). */
  setPrefetch(prefetch: number): void;
  /** Stops delivering. Messages already delivered stay with the caller to settle. */
  cancel(): Promise<void>;
}

/** Why a message was set aside. */
export interface DeadLetterReason {
  /** Stable, machine-readable: `bad-message:body-not-json`, `not-registered`, ... */
  readonly code: string;
  readonly message: string;
}

export interface DeadLetterEntry {
  readonly id: string;
  readonly queue: string;
  readonly reason: DeadLetterReason;
  readonly deadLetteredAt: Date;
  /** The message as it was delivered (the raw text when it could not be parsed at all). */
  readonly message: RawMessage | null;
  readonly raw: string | null;
}

export interface ListDeadLettersOptions {
  readonly queue?: string;
  /** @default 100 */
  readonly limit?: number;
}

export interface Broker {
  readonly capabilities: BrokerCapabilities;
  /** Connects (idempotent). Called by the app before first use. */
  connect(): Promise<void>;
  publish(message: RawMessage, options: PublishOptions): Promise<void>;
  /** Publishes many messages in as few round trips as the transport allows. */
  publishMany(messages: readonly OutgoingMessage[]): Promise<void>;
  consume(queues: readonly string[], onDelivery: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Consumer>;
  /** Removes every waiting message from a queue, delayed ones included; returns how many. */
  purge(queue: string): Promise<number>;
  /** Messages waiting in a queue, delayed ones included (not delivered, unacknowledged ones). */
  size(queue: string): Promise<number>;
  /**
   * Settles a delivery by setting it aside with its reason. Throws StateError when the delivery
   * was already settled (after close() it does nothing: the message went back).
   */
  deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void>;
  /** Dead-lettered messages, oldest first. */
  listDeadLetters(options?: ListDeadLettersOptions): Promise<DeadLetterEntry[]>;
  /**
   * Puts a dead-lettered message back on its queue. Returns false if there is no such entry, or
   * it holds only raw text that cannot be replayed.
   */
  replayDeadLetter(id: string): Promise<boolean>;
  /** Deletes a dead-lettered message for good. Returns false if no such entry. */
  deleteDeadLetter(id: string): Promise<boolean>;
  /** Closes connections (idempotent). Unsettled deliveries go back to their queues. */
  close(): Promise<void>;
}

/** Validates a prefetch limit (consume option or setPrefetch): a positive integer. Every broker calls it. */
export function checkPrefetch(prefetch: number): number {
  if (!Number.isInteger(prefetch) || prefetch < 1) {
    throw new ConfigError(`consume option "prefetch" must be a positive integer, got ${JSON.stringify(prefetch)}`);
  }
  return prefetch;
}
