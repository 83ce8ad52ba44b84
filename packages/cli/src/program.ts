/**
 * The `celeriac` program: one subcommand per file under commands/. Commander's own errors (an
 * unknown option, a missing argument) are thrown rather than exiting, so every error leaves
 * through `reportError` with the same one-line form.
 */
import { Command, CommanderError } from 'commander';
import type { CliContext } from './cli-context.js';
import { callCommand } from './commands/call-command.js';
import { deadLettersCommand } from './commands/dead-letters-command.js';
import { purgeCommand } from './commands/purge-command.js';
import { resultCommand } from './commands/result-command.js';
import { workerCommand } from './commands/worker-command.js';

export const VERSION = '0.1.0';

export function createProgram(ctx: CliContext): Command {
  const program = new Command('celeriac')
    .description('celeriac: a distributed task queue, wire-compatible with Celery')
    .version(VERSION)
    .option('--verbose', 'show stacks and causes of errors')
    .showSuggestionAfterError()
    .hook('preAction', (_this, action) => {
      if (action.optsWithGlobals()['verbose']) ctx.verbose = true;
    });
  for (const command of [workerCommand(ctx), callCommand(ctx), resultCommand(ctx), purgeCommand(ctx), deadLettersCommand(ctx)]) {
    program.addCommand(command);
  }
  applyToAll(program, (c) =>
    c.exitOverride().configureOutput({
      writeOut: (s) => void process.stdout.write(s),
      writeErr: (s) => void process.stderr.write(s),
      // Commander's messages start with "error: "; ours say "celeriac: ".
      outputError: (s, write) => write(`celeriac: ${s.replace(/^error: /, '')}`),
    }),
  );
  return program;
}

/** Runs the program on `argv` (process.argv form) and returns the exit code. */
export async function runProgram(ctx: CliContext, argv: readonly string[], report: (err: unknown) => number): Promise<number> {
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // Help and --version "fail" with exit code 0; commander already printed its own errors.
    if (err instanceof CommanderError) return err.exitCode;
    // An option value that failed to parse stops before the preAction hook could read --verbose.
    if (program.opts()['verbose']) ctx.verbose = true;
    return report(err);
  }
}

function applyToAll(command: Command, fn: (c: Command) => void): void {
  fn(command);
  for (const sub of command.commands) applyToAll(sub, fn);
}
