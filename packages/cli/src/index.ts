/**
 * @celeriac/cli as a library: the program (to embed or test in-process) and the app-module loader.
 * The executable is `main.ts` (bin `celeriac`).
 */
export { createProgram, runProgram, VERSION } from './program.js';
export { createCliContext, type CliContext } from './cli-context.js';
export { loadApp } from './load-app.js';
export { openApp, type ConnectionOptions } from './open-app.js';
export { reportError, describe as describeError } from './report-error.js';
export { formatProgress, startProgress, type ProgressReporter } from './worker-progress.js';
