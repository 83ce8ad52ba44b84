/**
 * `celeriac dead-letters list | replay <id> | delete <id>`: messages the worker set aside (unknown
 * task, unparseable message, rejected without requeue), through the broker's dead-letter API.
 */
import { Command } from 'commander';
import { NotFoundError, type App, type DeadLetterEntry, type ListDeadLettersOptions } from '@celeriac/core';
import type { CliContext } from '../cli-context.js';
import { CONNECTION_HELP, openApp, type ConnectionOptions } from '../open-app.js';
import { positiveInt } from '../options.js';

interface ListOptions extends ConnectionOptions {
  queue?: string;
  limit?: number;
  json?: boolean;
}

export function deadLettersCommand(ctx: CliContext): Command {
  const command = new Command('dead-letters').description('list, replay or delete messages the worker set aside');
  command.addCommand(
    withConnection(new Command('list'))
      .description('list dead-lettered messages, oldest first')
      .option('-Q, --queue <name>', 'only those from this queue')
      .option('--limit <n>', 'at most this many (default: 100)', positiveInt('--limit'))
      .option('--json', 'one JSON object per line')
      .action((options: ListOptions) => withApp(ctx, options, (app) => list(ctx, app, options))),
  );
  command.addCommand(
    withConnection(new Command('replay'))
      .description('put a dead-lettered message back on its queue')
      .argument('<id>', 'dead-letter id, as `list` prints it')
      .action((id: string, options: ConnectionOptions) =>
        withApp(ctx, options, async (app) => {
          if (!(await app.broker.replayDeadLetter(id))) throw notFound(id);
          ctx.out(`replayed ${id}`);
        }),
      ),
  );
  command.addCommand(
    withConnection(new Command('delete'))
      .description('delete a dead-lettered message for good')
      .argument('<id>', 'dead-letter id, as `list` prints it')
      .action((id: string, options: ConnectionOptions) =>
        withApp(ctx, options, async (app) => {
          if (!(await app.broker.deleteDeadLetter(id))) throw notFound(id);
          ctx.out(`deleted ${id}`);
        }),
      ),
  );
  return command;
}

function withConnection(command: Command): Command {
  return command
    .option('-A, --app <module>', CONNECTION_HELP.app)
    .option('-b, --broker <url>', CONNECTION_HELP.broker)
    .option('--backend <url>', CONNECTION_HELP.backend);
}

async function withApp(ctx: CliContext, options: ConnectionOptions, work: (app: App) => Promise<void>): Promise<void> {
  const app = await openApp(options, ctx.logger('warn'));
  try {
    await work(app);
  } finally {
    await app.close();
  }
}

async function list(ctx: CliContext, app: App, options: ListOptions): Promise<void> {
  const query: { -readonly [K in keyof ListDeadLettersOptions]: ListDeadLettersOptions[K] } = {};
  if (options.queue !== undefined) query.queue = options.queue;
  if (options.limit !== undefined) query.limit = options.limit;
  const entries = await app.broker.listDeadLetters(query);
  if (options.json) {
    for (const e of entries) ctx.out(JSON.stringify({ ...summarize(e), message: e.message, raw: e.raw }));
    return;
  }
  if (!entries.length) {
    ctx.err('no dead-lettered messages');
    return;
  }
  const rows = entries.map((e) => {
    const s = summarize(e);
    return [s.id, s.queue, s.code, s.task ?? '-', s.taskId ?? '-', s.deadLetteredAt, s.reason];
  });
  for (const line of table(['ID', 'QUEUE', 'CODE', 'TASK', 'TASK ID', 'WHEN', 'REASON'], rows)) ctx.out(line);
}

function summarize(e: DeadLetterEntry) {
  const headers = e.message?.headers ?? {};
  return {
    id: e.id,
    queue: e.queue,
    code: e.reason.code,
    reason: e.reason.message,
    task: typeof headers['task'] === 'string' ? headers['task'] : null,
    taskId: typeof headers['id'] === 'string' ? headers['id'] : null,
    deadLetteredAt: e.deadLetteredAt.toISOString(),
  };
}

/** Left-aligned columns; the last one is not padded. */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`dead letter ${JSON.stringify(id)} (see: celeriac dead-letters list)`);
}
