/**
 * `celeriac call <name>`: sends a task by name and prints its id; with `--wait`, then prints its
 * result (a failed task exits non-zero with its error: `CELERIAC_E_TASK_FAILED ValueError: ...`).
 */
import { Command } from 'commander';
import type { ApplyOptions } from '@celeriac/core';
import type { CliContext } from '../cli-context.js';
import { formatValue } from '../format-result.js';
import { CONNECTION_HELP, openApp, type ConnectionOptions } from '../open-app.js';
import { jsonArray, jsonObject, seconds } from '../options.js';

interface CallOptions extends ConnectionOptions {
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  queue?: string;
  countdown?: number;
  wait?: boolean;
  timeout?: number;
}

export function callCommand(ctx: CliContext): Command {
  return new Command('call')
    .description('send a task by name and print its id')
    .argument('<name>', 'registered task name, e.g. proj.add')
    .option('--args <json>', 'positional arguments as a JSON array, e.g. \'[2, 3]\'', jsonArray('--args'))
    .option('--kwargs <json>', 'keyword arguments as a JSON object, e.g. \'{"x": 1}\'', jsonObject('--kwargs'))
    .option('-Q, --queue <name>', 'queue to send to (default: the task\'s queue with -A, else "celery")')
    .option('--countdown <seconds>', 'run no earlier than this many seconds from now', seconds('--countdown'))
    .option('--wait', 'wait for the result and print it as JSON')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds (default: wait forever)', seconds('--timeout'))
    .option('-A, --app <module>', CONNECTION_HELP.app)
    .option('-b, --broker <url>', CONNECTION_HELP.broker)
    .option('--backend <url>', CONNECTION_HELP.backend)
    .action((name: string, options: CallOptions) => runCall(ctx, name, options));
}

async function runCall(ctx: CliContext, name: string, options: CallOptions): Promise<void> {
  const app = await openApp(options, ctx.logger('warn'));
  try {
    const call: ApplyOptions<readonly unknown[]> = options.kwargs ? { kwargs: options.kwargs } : {};
    if (options.args) call.args = options.args;
    if (options.queue !== undefined) call.queue = options.queue;
    if (options.countdown !== undefined) call.countdown = options.countdown;
    const result = await app.sendTask(name, call, app.tasks.get(name));
    ctx.out(result.id);
    if (!options.wait) return;
    const value = await result.get(options.timeout === undefined ? {} : { timeout: options.timeout * 1000 });
    ctx.out(formatValue(value));
  } finally {
    await app.close();
  }
}
