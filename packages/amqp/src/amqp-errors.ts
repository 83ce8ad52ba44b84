/**
 * Errors of @celeriac/amqp, and how a failed connection attempt is classified (STYLE rule 7):
 *
 * - `fatal`: trying again at once will not help: a refused login (403 ACCESS_REFUSED) or a server
 *   certificate that does not verify. amqp-connection.ts reports it to every waiting caller.
 * - `reconnect`: anything else (refused, reset, timed out, the server going down): tried again
 *   with backoff.
 */
import { UnavailableError, type DriverErrorClass } from '@celeriac/core';

/** TLS verification codes Node reports: the server's certificate will not verify on a retry either. */
const CERTIFICATE_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_)/;

/** An error of amqplib's `connect()` (see the header). */
export function classifyConnectError(err: unknown): DriverErrorClass {
  if (!(err instanceof Error)) return 'reconnect';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CERTIFICATE_CODES.test(code)) return 'fatal';
  return /ACCESS[-_]REFUSED/.test(err.message) ? 'fatal' : 'reconnect';
}

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
