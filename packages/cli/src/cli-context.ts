/**
 * What every command shares: where output goes and whether errors show their stack. Created once
 * per run by `main.ts` (no module-level state), so tests can run the program in-process.
 */
import { consoleLogger, type Logger, type LogLevel } from '@celeriac/core';

export interface CliContext {
  /** Writes one line of the command's real output (stdout): ids, results, tables. */
  out(line: string): void;
  /** Writes one line for a human (stderr): prompts' context, notices. */
  err(line: string): void;
  /** Show stacks and causes of errors: set by `--verbose` or `--loglevel debug`. */
  verbose: boolean;
  /** A logger at `level`, or at "debug" when verbose. */
  logger(level: LogLevel): Logger;
}

export function createCliContext(): CliContext {
  const ctx: CliContext = {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
    verbose: false,
    logger: (level) => consoleLogger(ctx.verbose ? 'debug' : level),
  };
  return ctx;
}
