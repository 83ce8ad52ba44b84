/**
 * The geoprocessing app: one task, `do_task(x, y)`, which asks a (simulated, flaky) geoservice
 * about a grid cell and stores the cell's square as GeoJSON. The worker loads this file as it is,
 * TypeScript and all: `celeriac worker -A examples/geoprocessing/src/app.ts`.
 *
 * Configuration comes from the environment, as it would in production:
 * - CELERIAC_BROKER_URL (and optionally CELERIAC_RESULT_BACKEND): read by `new App()`;
 *   default `sqlite:///celeriac.db`;
 * - GEOPROCESSING_STORE: the SQLite file of the squares; default `squares.db`;
 * - GEOPROCESSING_FAILURE_RATE: the chance that a service call fails; default 0.2.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { App } from '@celeriac/core';
import { gridSquare } from './grid-square.js';
import { SquareStore } from './square-store.js';

/** The geoservice is unavailable; worth another try in a second. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
}

export const app = new App();

const failureRate = Number(process.env['GEOPROCESSING_FAILURE_RATE'] ?? 0.2);
if (!(failureRate >= 0 && failureRate <= 1)) throw new Error(`GEOPROCESSING_FAILURE_RATE must be between 0 and 1, got ${process.env['GEOPROCESSING_FAILURE_RATE']}`);

// Opened on the first task, so a process that only sends tasks never touches the file.
let store: SquareStore | null = null;

export const doTask = app.task(
  {
    name: 'do_task',
    params: ['x', 'y'],
    autoretryFor: [ServiceError],
    maxRetries: 3,
    // Without backoff, an automatic retry waits defaultRetryDelay seconds.
    defaultRetryDelay: 1,
    softTimeLimit: 5,
  },
  async (ctx, x: number, y: number) => {
    await callGeoService(ctx.signal);
    const square = gridSquare(x, y);
    store ??= new SquareStore(process.env['GEOPROCESSING_STORE'] ?? 'squares.db');
    store.upsert(x, y, square, ctx.id);
    return { x, y, area: 1 };
  },
);

/** A remote call: 5–30 ms, and it fails at random. Stops early if the soft time limit aborts it. */
async function callGeoService(signal: AbortSignal): Promise<void> {
  await sleep(5 + Math.random() * 25, undefined, { signal });
  if (Math.random() < failureRate) throw new ServiceError('geoservice unavailable (simulated)');
}
