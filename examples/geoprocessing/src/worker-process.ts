/**
 * The demo's worker: a separate process started through the real CLI,
 * `celeriac worker -A src/app.ts`, exactly as one would start it by hand. Its log lines are
 * passed through with a `worker |` prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface WorkerProcess {
  /** Resolves when the worker logs that it is consuming; rejects if it exits first. */
  ready: Promise<void>;
  /** SIGTERM (warm shutdown); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** False once the process has exited. */
  isRunning(): boolean;
}

/**
 * The CLI's entry point next to its package entry: dist/main.js normally, src/main.ts when this
 * process runs from sources (the "development" condition, as the tests do).
 */
function cliMain(): string {
  const entry = fileURLToPath(import.meta.resolve('@celeriac/cli'));
  return join(dirname(entry), entry.endsWith('.ts') ? 'main.ts' : 'main.js');
}

export function startWorker(appModule: string, args: readonly string[], env: NodeJS.ProcessEnv): WorkerProcess {
  // process.execArgv carries --conditions/--import when this demo runs from sources.
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, cliMain(), 'worker', '-A', appModule, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        process.stderr.write(`  worker | ${line}\n`);
        if (/\bINFO worker \S+ ready\b/.test(line)) resolve();
      });
    }
    void exited.then((code) => reject(new Error(`the worker exited with code ${code} before it was ready`)));
  });
  // Nobody may be waiting for `ready` when the worker exits later on; that is not an error.
  ready.catch(() => undefined);
  return {
    ready,
    isRunning: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
