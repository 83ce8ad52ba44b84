/**
 * `celeriac purge`: removes every waiting message from queues, after a confirmation unless `-f`.
 * Prints one `purged N message(s) from <queue>` line per queue. Messages a worker has reserved are
 * not waiting, so they are not purged (as in Celery).
 */
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { confirm } from '../confirm.js';
import { CONNECTION_HELP, openApp, type ConnectionOptions } from '../open-app.js';
import { queueList } from '../options.js';

interface PurgeOptions extends ConnectionOptions {
  queues?: string[];
  force?: boolean;
}

export function purgeCommand(ctx: CliContext): Command {
  return new Command('purge')
    .description('remove all waiting messages from queues')
    .option('-Q, --queues <names>', 'comma-separated queues (default: the app\'s default queue, "celery")', queueList('-Q/--queues'))
    .option('-f, --force', 'do not ask for confirmation')
    .option('-A, --app <module>', CONNECTION_HELP.app)
    .option('-b, --broker <url>', CONNECTION_HELP.broker)
    .option('--backend <url>', CONNECTION_HELP.backend)
    .action((options: PurgeOptions) => runPurge(ctx, options));
}

async function runPurge(ctx: CliContext, options: PurgeOptions): Promise<void> {
  const app = await openApp(options, ctx.logger('warn'));
  try {
    const queues = options.queues ?? [app.defaultQueue];
    if (!options.force) {
      const sizes = await Promise.all(queues.map((q) => app.broker.size(q)));
      const total = sizes.reduce((a, b) => a + b, 0);
      const ok = await confirm(`Remove ${plural(total)} waiting in ${queues.join(', ')}? There is no undo.`);
      if (!ok) {
        ctx.err('purge cancelled: nothing was removed');
        process.exitCode = 1;
        return;
      }
    }
    for (const queue of queues) ctx.out(`purged ${plural(await app.broker.purge(queue))} from ${queue}`);
  } finally {
    await app.close();
  }
}

function plural(n: number): string {
  return `${n} message${n === 1 ? '' : 's'}`;
}
