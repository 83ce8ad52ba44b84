/**
 * Running the real `celeriac` executable in child processes, against a SQLite file in a fresh temp
 * directory (never ./celeriac.db). Every child is tracked, and `killStarted()` ends only those,
 * by their own PIDs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
export const FIXTURE_APP = fileURLToPath(new URL('./fixtures/test-app.ts', import.meta.url));
const NODE_ARGS = ['--conditions=development', '--import', 'tsx', MAIN];
/** Long enough for a slow machine; only there so a broken test fails instead of hanging. */
const GIVE_UP_MS = 60_000;

const started = new Set<ChildProcess>();

export interface Sandbox {
  dir: string;
  /** `sqlite:////<dir>/celeriac.db` */
  url: string;
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-cli-'));
  const url = `sqlite:///${join(dir, 'celeriac.db')}`;
  const env = { ...process.env, CELERIAC_BROKER_URL: url, CELERIAC_RESULT_BACKEND: url };
  return { dir, url, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `celeriac ...args` to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<Finished> {
  const proc = startCli(args, env);
  if (input !== undefined) proc.child.stdin?.end(input);
  else proc.child.stdin?.end();
  return proc.exited;
}

export interface RunningCli {
  child: ChildProcess;
  exited: Promise<Finished>;
  /** Output so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when stderr or stdout has a line matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<string>;
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv): RunningCli {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (b: Buffer) => ((stdout += b.toString()), listeners.forEach((l) => l())));
  child.stderr!.on('data', (b: Buffer) => ((stderr += b.toString()), listeners.forEach((l) => l())));
  const giveUp = setTimeout(() => child.kill('SIGKILL'), GIVE_UP_MS);
  const exited = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(giveUp);
      started.delete(child);
      listeners.forEach((l) => l());
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    exited,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = `${stdout}\n${stderr}`.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            listeners.delete(check);
            resolve(line);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            listeners.delete(check);
            reject(new Error(`celeriac ${args.join(' ')} exited before printing ${pattern}:\n${stdout}\n${stderr}`));
          }
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Starts `celeriac worker -A <fixture>` and resolves once it is consuming. */
export async function startWorker(env: NodeJS.ProcessEnv, extra: readonly string[] = []): Promise<RunningCli> {
  const worker = startCli(['worker', '-A', FIXTURE_APP, '-l', 'info', ...extra], env);
  await worker.waitFor(/INFO worker .* ready/);
  return worker;
}

/** Kills (SIGKILL) the children this process started that are still running. */
export function killStarted(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Polls `check` until it returns a value other than undefined (or the give-up time passes). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
