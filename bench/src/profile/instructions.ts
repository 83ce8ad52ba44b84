/**
 * Instructions per latency round trip, counted by valgrind's callgrind: a figure that repeats
 * within about 1 %, where wall-clock and CPU times on a small shared machine swing by 10 % and
 * more from run to run. For telling whether a change to the round trip's path made it cheaper.
 *
 *   npm run profile --workspace bench -- worker|client [--from 250] [--to 1050] [--redis-db 15]
 *
 * One side (the celeriac-redis worker, or the producer) runs under callgrind, the other
 * normally; the producer sends the no-op and awaits it `--to` + 100 times, as the latency
 * scenario does, and callgrind's counters are zeroed before round trip `--from` and dumped before
 * `--to` (vgdb), so start-up and shutdown are left out: the figure is every instruction the
 * process ran in those round trips (all its threads: V8's compiler is most of them while the
 * code warms up), divided by their number. The share of TurboFan's compiler is printed too.
 *
 * Needs valgrind (Debian: `apt-get install valgrind`) and the Redis at 127.0.0.1:6379, on a
 * database that must be empty (default 15); a run takes one to two minutes.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { withEmptyDb, redisDbUrl } from '../redis-db.js';

const WORKER = fileURLToPath(new URL('./round-trip-worker.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('./round-trip-client.ts', import.meta.url));
const USAGE = 'usage: npm run profile --workspace bench -- worker|client [--from N] [--to N] [--redis-db N]';

const argv = process.argv.slice(2);
const side = argv[0];
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  const value = i < 0 ? fallback : Number(argv[i + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number\n${USAGE}`);
  return value;
};
if (side !== 'worker' && side !== 'client') throw new Error(USAGE);
const from = flag('from', 250);
const to = flag('to', 1050);
const db = flag('redis-db', 15);
if (to <= from) throw new Error(`--to (${to}) must come after --from (${from})`);
for (const tool of ['valgrind', 'vgdb', 'callgrind_annotate']) {
  try {
    execFileSync('which', [tool], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is not installed (Debian: apt-get install valgrind)`);
  }
}

const out = join(tmpdir(), `celeriac-callgrind-${process.pid}.out`);
const trips = to + 100;
const node = [process.execPath, '--import', 'tsx'];
const callgrind = ['valgrind', '-q', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}`];

try {
  report(await withEmptyDb({ host: '127.0.0.1', port: 6379, db }, () => measure(redisDbUrl({ host: '127.0.0.1', port: 6379, db }))));
} finally {
  for (const file of [out, `${out}.1`]) rmSync(file, { force: true });
}

/** Runs the worker and the producer, one of them under callgrind; where the producer zeroed and dumped. */
async function measure(url: string): Promise<{ zeroAt: number; dumpAt: number }> {
  const started: (ChildProcess & { exited: Promise<[number | null]> })[] = [];
  const start = (command: string[], capture = false) => {
    const spawned = spawn(command[0]!, command.slice(1), { stdio: ['ignore', capture ? 'pipe' : 'ignore', 'inherit'] });
    // Listened for from the start: either side may end first.
    const child = Object.assign(spawned, { exited: once(spawned, 'exit') as Promise<[number | null]> });
    started.push(child);
    return child;
  };
  try {
    const marks = [String(trips), String(from), String(to)];
    let worker, client;
    if (side === 'worker') {
      worker = start([...callgrind, ...node, WORKER, url, String(trips)]);
      client = start([...node, CLIENT, url, ...marks, String(await valgrindPid(out))], true);
    } else {
      worker = start([...node, WORKER, url, String(trips)]);
      client = start([...callgrind, ...node, CLIENT, url, ...marks, 'self'], true);
    }
    const where = await lastLine(client);
    await within(worker.exited, 120_000, 'the worker did not exit within two minutes of the last round trip');
    return where;
  } finally {
    // Only what this run started, by its handle; waited for, so that the files and the database
    // are removed after them.
    await Promise.all(started.map((child) => stop(child)));
  }
}

/** Ends `child` (SIGTERM, then SIGKILL after 10 s) unless it has exited; resolves once it has. */
async function stop(child: ChildProcess & { exited: Promise<unknown> }): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill();
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await child.exited;
  clearTimeout(killer);
}

/** `promise`, or a rejection with `message` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Prints the dump's instructions per round trip and TurboFan's share. */
function report(result: { zeroAt: number; dumpAt: number }): void {
  const dump = `${out}.1`;
  if (!existsSync(dump)) throw new Error(`callgrind wrote no dump (${dump}): was vgdb able to reach the process?`);
  const total = Number(/^summary:\s+(\d+)/m.exec(readFileSync(dump, 'utf8'))?.[1]);
  if (!(total > 0)) throw new Error(`no instruction total in ${dump}`);
  const compiler = compilerShare(dump);
  const n = result.dumpAt - result.zeroAt;
  console.log(`${side}: ${Math.round(total / n).toLocaleString('en-US')} instructions per round trip (round trips ${result.zeroAt}-${result.dumpAt}), TurboFan compiling ${Math.round((100 * compiler) / total)} %`);
}

/** The valgrind process whose command line names `out` (vgdb lists them; the shell wrapper's child). */
async function valgrindPid(file: string): Promise<number> {
  for (let i = 0; i < 600; i++) {
    // vgdb -l exits with 1 even when it lists something: its output is what counts.
    const listed = spawnSync('vgdb', ['-l'], { encoding: 'utf8' }).stdout ?? '';
    const line = listed.split('\n').find((l) => l.includes(file));
    const pid = line && /--pid=(\d+)/.exec(line)?.[1];
    if (pid) return Number(pid);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the worker under valgrind did not show up in `vgdb -l` within a minute');
}

/** The client's last output line: where the counters were zeroed and dumped. */
async function lastLine(client: ChildProcess & { exited: Promise<[number | null]> }): Promise<{ zeroAt: number; dumpAt: number }> {
  let text = '';
  client.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const [code] = await client.exited;
  if (code !== 0) throw new Error(`the producer exited with ${code}`);
  const marks = JSON.parse(text.trim().split('\n').pop() ?? '{}') as { zeroAt?: number; dumpAt?: number };
  if (typeof marks.zeroAt !== 'number' || typeof marks.dumpAt !== 'number') throw new Error(`the producer did not report where it zeroed and dumped: ${text}`);
  return { zeroAt: marks.zeroAt, dumpAt: marks.dumpAt };
}

/** Instructions in TurboFan's compiler (v8::internal::compiler), from callgrind_annotate's self costs. */
function compilerShare(file: string): number {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+.*v8::internal::compiler::/.exec(line);
    if (m) sum += Number(m[1]!.replace(/,/g, ''));
  }
  return sum;
}
