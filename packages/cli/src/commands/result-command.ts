/**
 * `celeriac result <id>`: prints a task's state and its result or exception; `--wait` waits until
 * it is ready. Printing a failed task's state is not an error: the exit code is 0 either way.
 */
import { Command } from 'commander';
import { NoBackendError, ResultTimeoutError, waitForReady } from '@celeriac/core';
import type { CliContext } from '../cli-context.js';
import { formatMeta } from '../format-result.js';
import { CONNECTION_HELP, openApp, type ConnectionOptions } from '../open-app.js';
import { seconds } from '../options.js';

interface ResultOptions extends ConnectionOptions {
  wait?: boolean;
  timeout?: number;
  json?: boolean;
}

export function resultCommand(ctx: CliContext): Command {
  return new Command('result')
    .description('print the state and result (or exception) of a task')
    .argument('<id>', 'task id, as `celeriac call` printed it')
    .option('--wait', 'wait until the task is ready (SUCCESS, FAILURE or REVOKED)')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds (default: wait forever)', seconds('--timeout'))
    .option('--json', 'print the stored metadata as one JSON line')
    .option('-A, --app <module>', CONNECTION_HELP.app)
    .option('-b, --broker <url>', CONNECTION_HELP.broker)
    .option('--backend <url>', CONNECTION_HELP.backend)
    .action((id: string, options: ResultOptions) => runResult(ctx, id, options));
}

async function runResult(ctx: CliContext, id: string, options: ResultOptions): Promise<void> {
  const app = await openApp(options, ctx.logger('warn'));
  try {
    const backend = app.backend;
    if (!backend) throw new NoBackendError('celeriac result');
    let meta = await app.asyncResult(id).meta();
    if (options.wait) {
      const timeoutMs = options.timeout === undefined ? undefined : options.timeout * 1000;
      const ready = await waitForReady(backend, id, timeoutMs);
      if (!ready) throw new ResultTimeoutError(id, timeoutMs ?? 0);
      meta = ready;
    }
    if (options.json) ctx.out(JSON.stringify(meta));
    else for (const line of formatMeta(meta, ctx.verbose)) ctx.out(line);
  } finally {
    await app.close();
  }
}
