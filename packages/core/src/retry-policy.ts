/**
 * Retry delays, with Celery's semantics (`celery.utils.time.get_exponential_backoff_interval`):
 * `min(maximum, factor * 2 ** retries)`, then with full jitter a random whole number of seconds in
 * `[0, that]`.
 */
export function exponentialBackoff(
  factor: number,
  retries: number,
  maximum: number,
  fullJitter: boolean,
  random: () => number = Math.random,
): number {
  let countdown = Math.min(maximum, factor * 2 ** retries);
  if (fullJitter) countdown = Math.floor(random() * (countdown + 1));
  return Math.max(0, countdown);
}
