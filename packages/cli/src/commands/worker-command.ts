/**
 * `celeriac worker -A app.ts`: runs the tasks of an app module until SIGTERM/SIGINT. The first
 * signal is a warm shutdown (running tasks finish, reserved ones go back to the broker for the next
 * worker), a second one a cold shutdown; either way the process then exits 0.
 */
import { hostname as osHostname } from 'node:os';
import { Command } from 'commander';
import { Worker, type LogLevel, type WorkerOptions } from '@celeriac/core';
import type { CliContext } from '../cli-context.js';
import { applyUrlOverrides, CONNECTION_HELP, useLogger } from '../open-app.js';
import { loadApp } from '../load-app.js';
import { logLevel, positiveInt, queueList, seconds } from '../options.js';
import { startProgress } from '../worker-progress.js';

interface WorkerCommandOptions {
  app: string;
  queues?: string[];
  concurrency?: number;
  loglevel: LogLevel;
  hostname?: string;
  prefetchMultiplier?: number;
  broker?: string;
  backend?: string;
  progressInterval: number;
}

export function workerCommand(ctx: CliContext): Command {
  return new Command('worker')
    .description('run the tasks of an app module until SIGTERM/SIGINT (warm shutdown, exit 0)')
    .requiredOption('-A, --app <module>', CONNECTION_HELP.app)
    .option('-Q, --queues <names>', 'comma-separated queues to consume (default: the app\'s default queue, "celery")', queueList('-Q/--queues'))
    .option('-c, --concurrency <n>', 'tasks run at once (default: 10)', positiveInt('-c/--concurrency'))
    .option('-l, --loglevel <level>', 'debug, info, warn, error or silent', logLevel('-l/--loglevel'), 'info')
    .option('-n, --hostname <name>', 'node name; %h is replaced by the host name (default: celeriac@%h)')
    .option('--prefetch-multiplier <n>', 'messages reserved per concurrency slot (default: 4)', positiveInt('--prefetch-multiplier'))
    .option('-b, --broker <url>', CONNECTION_HELP.broker)
    .option('--backend <url>', CONNECTION_HELP.backend)
    .option('--progress-interval <seconds>', 'seconds between progress lines at info level; 0 for none', seconds('--progress-interval'), 10)
    .action((options: WorkerCommandOptions) => runWorker(ctx, options));
}

async function runWorker(ctx: CliContext, options: WorkerCommandOptions): Promise<void> {
  if (options.loglevel === 'debug') ctx.verbose = true;
  const logger = ctx.logger(options.loglevel);
  // A signal while the module loads (before the worker handles signals) still means "stop".
  let stopRequested = false;
  const early = () => void (stopRequested = true);
  process.on('SIGTERM', early).on('SIGINT', early);
  try {
    applyUrlOverrides(options);
    const app = await loadApp(options.app);
    useLogger(app, logger);
    const workerOptions: WorkerOptions = { handleSignals: true };
    if (options.queues) workerOptions.queues = options.queues;
    if (options.concurrency !== undefined) workerOptions.concurrency = options.concurrency;
    if (options.prefetchMultiplier !== undefined) workerOptions.prefetchMultiplier = options.prefetchMultiplier;
    if (options.hostname !== undefined) workerOptions.hostname = expandHostname(options.hostname);
    const worker = Worker.create(app, workerOptions);
    if (stopRequested) {
      await app.close();
      return;
    }
    const progress = startProgress(worker.stats, logger, options.progressInterval);
    // run() installs the worker's own handlers before it yields, so no signal falls in between.
    const running = worker.run();
    process.off('SIGTERM', early).off('SIGINT', early);
    try {
      await running;
    } finally {
      progress.stop();
      await app.close();
    }
    logger.info(`worker ${worker.hostname} stopped`);
  } finally {
    process.off('SIGTERM', early).off('SIGINT', early);
  }
}

/** Celery's node-name shorthands: `%h` host name, `%n` its first label, `%d` the rest. */
export function expandHostname(name: string): string {
  const host = osHostname();
  const dot = host.indexOf('.');
  return name
    .replaceAll('%h', host)
    .replaceAll('%n', dot < 0 ? host : host.slice(0, dot))
    .replaceAll('%d', dot < 0 ? '' : host.slice(dot + 1));
}
