/**
 * The expiry of a saved group or a chord, from the `expiresIn` option: like Celery's
 * `result_expires` (and the Redis backend's TTLs), null, undefined and 0 mean "never". Validated
 * when the call is made (keepMs), turned into an instant inside the write transaction (expiresAt).
 */
import { ConfigError } from '@celeriac/core';

/** How long to keep the entry in ms, or null for ever; throws a ConfigError naming `what` for a bad value. */
export function keepMs(expiresIn: number | null | undefined, what: string): number | null {
  if (expiresIn === null || expiresIn === undefined || expiresIn === 0) return null;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0) {
    throw new ConfigError(`${what} option "expiresIn" must be a non-negative number of seconds or null, got ${JSON.stringify(expiresIn)}`);
  }
  return Math.max(1, Math.ceil(expiresIn * 1000));
}

/** Epoch ms when an entry kept `keep` ms (see keepMs) from `now` expires, or null. */
export function expiresAt(keep: number | null, now: number): number | null {
  return keep === null ? null : now + keep;
}
