/**
 * Errors of @celeriac/redis, and how driver (ioredis) errors are classified (STYLE rule 7):
 *
 * - `reconnect`: the connection is gone or going (socket errors, "Connection is closed", a command
 *   aborted by a disconnect, READONLY after a failover). ioredis reconnects by itself; the
 *   operation is tried again once it has.
 * - `retry`: the server is there but cannot serve now (LOADING after a restart, BUSY script,
 *   TRYAGAIN, MASTERDOWN, OOM). Tried again after a pause.
 * - `fatal`: trying again will not help (wrong password, missing permission, WRONGTYPE on a key,
 *   a script error, a bug). Reported to the caller.
 */

import { UnavailableError, type DriverErrorClass } from '@celeriac/core';

export type RedisErrorClass = DriverErrorClass;

const SOCKET_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ERR_SOCKET_CLOSED',
]);
const RETRY_REPLIES = ['LOADING', 'BUSY', 'TRYAGAIN', 'MASTERDOWN', 'CLUSTERDOWN', 'OOM', 'NOSCRIPT'];
const RECONNECT_REPLIES = ['READONLY'];

export function classifyRedisError(err: unknown): RedisErrorClass {
  if (!(err instanceof Error)) return 'fatal';
  if (err instanceof RedisUnavailableError) return 'reconnect';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return 'reconnect';
  if (err.name === 'AbortError' || err.name === 'MaxRetriesPerRequestError') return 'reconnect';
  if (err.message === 'Connection is closed.' || /^(Stream isn't writeable|connect ETIMEDOUT|Command timed out)/.test(err.message)) return 'reconnect';
  if (err.name === 'ReplyError') {
    const word = err.message.split(' ', 1)[0] ?? '';
    if (RECONNECT_REPLIES.includes(word)) return 'reconnect';
    if (RETRY_REPLIES.includes(word)) return 'retry';
  }
  return 'fatal';
}

/**
 * Redis could not be reached in time for an operation that must not wait forever (a publish).
 * The message says whether the operation may still have happened. Code `CELERIAC_E_UNAVAILABLE`.
 */
export class RedisUnavailableError extends UnavailableError {
  constructor(operation: string, server: string, detail: string, options?: { cause?: unknown }) {
    super(operation, `Redis at ${server}`, detail, options);
  }
}
