#!/usr/bin/env node
/**
 * The `celeriac` executable. Exits explicitly once the command is done, so a driver's stray timer
 * or socket never keeps a finished command (or a worker after its warm shutdown) alive.
 */
import { createCliContext } from './cli-context.js';
import { runProgram } from './program.js';
import { reportError } from './report-error.js';

const ctx = createCliContext();
const code = await runProgram(ctx, process.argv, (err) => reportError(ctx, err));
process.exit(code);
