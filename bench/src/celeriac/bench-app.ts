/**
 * The app both sides of a celeriac run use: one no-op task, `bench.noop`, on the default queue,
 * and `bench.noop_body`, the chord group's body (it receives the header's results and ignores
 * them). Python's equivalents are `@app.task(name="bench.noop") def noop(): pass` and
 * `@app.task(name="bench.noop_body") def noop_body(results): pass`.
 */
import { App, consoleLogger, type Task } from '@celeriac/core';

export const NOOP_TASK = 'bench.noop';
export const NOOP_BODY_TASK = 'bench.noop_body';

export interface BenchApp {
  readonly app: App;
  readonly noop: Task<[], void>;
  /** A chord body: takes the header's results, does nothing with them. */
  readonly noopBody: Task<[results: unknown[]], void>;
}

/**
 * An app on `url` (broker and result backend alike, unless `backend` names another, e.g. rpc://
 * with an amqp:// broker). Results use the app defaults: kept a day.
 */
export function createBenchApp(url: string, backend = url): BenchApp {
  const app = new App({ broker: url, backend, logger: consoleLogger('warn') });
  const noop = app.task(NOOP_TASK, () => {});
  const noopBody = app.task(NOOP_BODY_TASK, (_ctx, _results: unknown[]) => {});
  return { app, noop, noopBody };
}
