/**
 * The chord group of the bench (the Canvas issue): one chord of `chordTasks` no-op header tasks
 * and a no-op body on Redis, applied by a client while a worker process (already consuming) runs
 * it. The clock runs from just before applying the chord until the body's `get()` returns; the
 * chord is built before it on both sides. Both rows store every header result and the body's
 * (Celery's default for chords) and count the parts in Celery's keys
 * (`celery-taskset-meta-<group id>.j` / `.s`); each runs one untimed round trip first, so
 * connections and result subscriptions are up on both sides. Two more times are taken from the
 * same start: until applying returned, and until the body's result key said SUCCESS (read every
 * 5 ms), which does not depend on how the client waits.
 */
import type { ScenarioConfig, Traits } from '../contestant.js';

/** The rows as `--only` names them; the table and the record print them without `chord:`. */
export const CHORD_ROW_NAMES = ['chord:celeriac-redis', 'chord:celery-py-redis'] as const;

export interface ChordFigures {
  /** Header tasks applied. */
  readonly tasks: number;
  /** From just before applying the chord until the body's `get()` returned. */
  readonly ms: number;
  /** From the same start until applying returned (the size recorded, every header task sent). */
  readonly appliedMs: number;
  /**
   * From the same start until the body's result key said SUCCESS, read every 5 ms from when
   * applying returned: the worker side, whatever the client's wait costs. Null if never seen.
   */
  readonly bodyStoredMs: number | null;
  /** Whether the body's stored result says SUCCESS (read after the clock stopped). */
  readonly bodySucceeded: boolean;
  /** Header tasks whose stored result says SUCCESS (read after the clock stopped). */
  readonly headerVerified: number;
  /** Tasks the worker ran successfully: the untimed round trip's, the header's and the body. */
  readonly workerSucceeded: number;
  /** Worker process CPU time while the scenario ran; null when not measurable. */
  readonly workerCpuMs: number | null;
}

export interface ChordRow {
  /** Row name as printed, e.g. "celeriac-redis". */
  readonly name: string;
  readonly traits: Traits;
  run(config: ScenarioConfig): Promise<ChordFigures>;
}
