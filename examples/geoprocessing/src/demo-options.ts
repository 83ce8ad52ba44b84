/**
 * Command-line flags of the demo (`npm run demo -- --tasks 100`), checked up front.
 */
import { parseArgs } from 'node:util';

export interface DemoOptions {
  /** Tasks to send. @default 2500 */
  tasks: number;
  /** The worker's concurrency. @default 50 */
  concurrency: number;
  /** Chance that one geoservice call fails, 0–1. @default 0.2 */
  failureRate: number;
  /** Where run directories are made. @default examples/geoprocessing/.demo */
  dir: string;
  /** Keep the run directory (broker, results, squares) for inspection. @default false */
  keep: boolean;
}

export const USAGE = `usage: npm run demo -- [--tasks N] [--concurrency N] [--failure-rate P] [--dir PATH] [--keep]`;

export function parseDemoOptions(argv: readonly string[], defaultDir: string): DemoOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      tasks: { type: 'string', default: '2500' },
      concurrency: { type: 'string', default: '50' },
      'failure-rate': { type: 'string', default: '0.2' },
      dir: { type: 'string', default: defaultDir },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const failureRate = Number(values['failure-rate']);
  if (!(failureRate >= 0 && failureRate <= 1)) throw new Error(`--failure-rate must be between 0 and 1, got ${values['failure-rate']}`);
  return {
    tasks: positiveInt('--tasks', values.tasks),
    concurrency: positiveInt('--concurrency', values.concurrency),
    failureRate,
    dir: values.dir,
    keep: values.keep,
  };
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}
