/**
 * Spawning fixture scripts as child processes (TypeScript through tsx, workspace packages from
 * source), reading their output line by line, and killing any still running when the test file
 * ends — by PID, one by one.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

export type Child = ChildProcessByStdio<Writable, Readable, null>;

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const running = new Set<Child>();
after(() => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
});

/** Starts `fixtures/<script>` with `args`; `onLine` sees each line it prints. */
export function startFixture(script: string, args: readonly string[], onLine: (line: string) => void = () => {}): Child {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', join(fixtures, script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  createInterface({ input: child.stdout }).on('line', onLine);
  return child;
}

/** Resolves with the exit code once the child has exited (at once if it already has). */
export async function exited(child: Child): Promise<number | null> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  return child.exitCode;
}
