/**
 * Errors of @celeriac/amqp.
 */
import { UnavailableError } from '@celeriac/core';

/**
 * RabbitMQ could not be reached in time for an operation that must not wait forever (a publish),
 * or a publish was not confirmed. The message says whether it may still have happened. Code
 * `CELERIAC_E_UNAVAILABLE`.
 */
export class AmqpUnavailableError extends UnavailableError {
  constructor(operation: string, server: string, detail: string, options?: { cause?: unknown }) {
    super(operation, `RabbitMQ at ${server}`, detail, options);
  }
}
