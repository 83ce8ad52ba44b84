/**
 * Watching what Redis runs (MONITOR), for tests about how many commands and round trips an
 * operation costs. Only commands naming something under the test's own prefix are kept, so tests
 * running side by side on the same server do not see each other's.
 */
import { connect } from 'node:net';
import { REDIS_URL } from './backend-fixture.js';

export type Seen = MonitorLine;

/** One command as MONITOR reports it. */
export interface MonitorLine {
  readonly db: number;
  /** The client's address (ip:port), or 'lua' for a command a script ran. */
  readonly source: string;
  readonly args: readonly string[];
}

/**
 * Every command Redis runs that `keep` accepts, as MONITOR reports it, on `base`'s server. Read
 * from a plain socket: ioredis's monitor mode can take a monitor line for a command reply when the
 * server is busy ("Command queue state error").
 */
export async function monitor(keep: (line: MonitorLine) => boolean, base = REDIS_URL): Promise<{ readonly lines: MonitorLine[]; stop(): void }> {
  const url = new URL(base);
  const socket = connect(Number(url.port || 6379), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const lines: MonitorLine[] = [];
  let buffered = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      const text = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      // +<time> [<db> <source>] "arg" "arg" ...
      const m = /^\+\S+ \[(\d+) (\S+)\] "(.*)"$/.exec(text);
      if (!m) continue;
      const line = { db: Number(m[1]), source: m[2]!, args: m[3]!.split('" "') };
      if (keep(line)) lines.push(line);
    }
  });
  if (url.password) socket.write(`AUTH ${decodeURIComponent(url.username || 'default')} ${decodeURIComponent(url.password)}\r\n`);
  socket.write('MONITOR\r\n');
  return { lines, stop: () => socket.destroy() };
}

/** Every command Redis runs that names something under `prefix` (tests side by side do not see each other's). */
export async function watchCommands(prefix: string): Promise<{ readonly seen: Seen[]; stop(): void }> {
  const { lines, stop } = await monitor((line) => line.args.some((a) => a.includes(prefix)));
  return { seen: lines, stop };
}

/** MONITOR's stream is read apart from the clients under test: let it catch up. */
export const quiet = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));
