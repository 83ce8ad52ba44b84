/**
 * Python Celery 5.2's chord row: the celery-py-redis row's worker (`-P threads -c C`, see
 * ../celery-py/celery-contestant.ts) and its driver's `chord` scenario, which applies
 * `chord([noop.s() for _ in range(N)], noop_body.s())` with `apply_async()` (Celery's chord: the
 * size recorded, then one publish per header task: Celery has no bulk send) and waits with the
 * body's `AsyncResult.get()`, timing itself.
 */
import { celeryContestant, figures, runCeleryScene, type CeleryOptions } from '../celery-py/celery-contestant.js';
import type { RedisTarget } from '../redis-db.js';
import type { ChordFigures, ChordRow } from './chord-row.js';

interface DriverChord {
  readonly tasks: number;
  readonly ms: number;
  readonly appliedMs: number;
  readonly bodyStoredMs: number | null;
  readonly bodyReady: number;
  readonly headerVerified: number;
  readonly workerSucceeded: number;
  readonly workerCpuMs: number | null;
}

/** `target` is the celery-py-redis row's own database: the rows run one after another. */
export function celeryChordRow(target: RedisTarget, options: CeleryOptions): ChordRow {
  return {
    name: 'celery-py-redis',
    traits: {
      ...celeryContestant(target, options).traits,
      resultsStored: "yes: every header task's and the body's (celery-task-meta-<id>, ignore_result False); parts counted in celery-taskset-meta-<group id>.j",
    },
    async run(config): Promise<ChordFigures> {
      const scene = await runCeleryScene(target, options, config, ['chord', '--tasks', String(config.chordTasks)]);
      const f = figures<DriverChord>(scene, ['tasks', 'ms', 'appliedMs', 'bodyReady', 'headerVerified', 'workerSucceeded']);
      return { tasks: f.tasks, ms: f.ms, appliedMs: f.appliedMs, bodyStoredMs: typeof f.bodyStoredMs === 'number' ? f.bodyStoredMs : null, bodySucceeded: f.bodyReady === 1, headerVerified: f.headerVerified, workerSucceeded: f.workerSucceeded, workerCpuMs: f.workerCpuMs };
    },
  };
}
