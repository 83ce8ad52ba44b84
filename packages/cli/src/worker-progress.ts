/**
 * The worker's periodic one-line progress, from `Worker.stats`:
 * `progress: 1200 processed (1100 succeeded, 20 failed, 80 retried), 240.0 tasks/s`.
 * A line is written only when something was processed since the last one, so an idle worker
 * stays quiet; `stop()` writes the totals.
 */
import type { Logger, WorkerStats } from '@celeriac/core';

export interface ProgressReporter {
  /** Stops the timer and logs the totals since start. */
  stop(): void;
}

/** Tasks that finished one way or another (a retry counts: that run is over). */
export function processedCount(s: WorkerStats): number {
  return s.succeeded + s.failed + s.retried + s.revoked + s.deadLettered;
}

export function formatProgress(s: WorkerStats, rate: number): string {
  const extra = [s.revoked ? `${s.revoked} revoked` : '', s.deadLettered ? `${s.deadLettered} dead-lettered` : ''].filter(Boolean);
  const parts = [`${s.succeeded} succeeded`, `${s.failed} failed`, `${s.retried} retried`, ...extra].join(', ');
  return `${processedCount(s)} processed (${parts}), ${rate.toFixed(1)} tasks/s`;
}

/** Logs progress at info level every `intervalSeconds` (0: only the final totals). */
export function startProgress(stats: Readonly<WorkerStats>, logger: Logger, intervalSeconds: number): ProgressReporter {
  const started = Date.now();
  let last = { at: started, processed: 0 };
  const tick = () => {
    const now = Date.now();
    const processed = processedCount(stats);
    if (processed === last.processed) return;
    const rate = ((processed - last.processed) * 1000) / Math.max(1, now - last.at);
    last = { at: now, processed };
    logger.info(`progress: ${formatProgress(stats, rate)}`);
  };
  const timer = intervalSeconds > 0 ? setInterval(tick, intervalSeconds * 1000) : null;
  // The timer must not keep a stopped worker's process alive.
  timer?.unref();
  return {
    stop() {
      if (timer) clearInterval(timer);
      const elapsed = Math.max(1, Date.now() - started);
      logger.info(`totals: ${formatProgress(stats, (processedCount(stats) * 1000) / elapsed)} over ${(elapsed / 1000).toFixed(1)} s`);
    },
  };
}
