/**
 * The app both sides of a celeriac run use: one no-op task, `bench.noop`, on the default queue.
 * Python's equivalent is `@app.task(name="bench.noop") def noop(): pass`.
 */
import { App, consoleLogger, type Task } from '@celeriac/core';

export const NOOP_TASK = 'bench.noop';

export interface BenchApp {
  readonly app: App;
  readonly noop: Task<[], void>;
}

/**
 * An app on `url` (broker and result backend alike, unless `backend` names another, e.g. rpc://
 * with an amqp:// broker). Results use the app defaults: kept a day.
 */
export function createBenchApp(url: string, backend = url): BenchApp {
  const app = new App({ broker: url, backend, logger: consoleLogger('warn') });
  const noop = app.task(NOOP_TASK, () => {});
  return { app, noop };
}
