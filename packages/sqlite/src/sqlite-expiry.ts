/**
 * The expiry instant of a saved group or a chord, from the `expiresIn` option: like Celery's
 * `result_expires` (and the Redis backend's TTLs), null, undefined and 0 mean "never".
 */
import { ConfigError } from '@celeriac/core';

/** Epoch ms when the entry expires, or null; throws a ConfigError naming `what` for a bad value. */
export function expiresAt(expiresIn: number | null | undefined, what: string, now: number): number | null {
  if (expiresIn === null || expiresIn === undefined || expiresIn === 0) return null;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0) {
    throw new ConfigError(`${what} option "expiresIn" must be a non-negative number of seconds or null, got ${JSON.stringify(expiresIn)}`);
  }
  return now + Math.max(1, Math.ceil(expiresIn * 1000));
}
