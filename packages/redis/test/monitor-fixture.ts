/**
 * Watching what Redis runs (MONITOR), for tests about how many commands and round trips an
 * operation costs. Only commands naming something under the test's own prefix are kept, so tests
 * running side by side on the same server do not see each other's.
 */
import { connect } from 'node:net';
import type { Redis } from 'ioredis';
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
  // MONITOR's +OK (after AUTH's, if any): from then on every command is reported.
  let acknowledged!: () => void;
  let refused!: (err: Error) => void;
  const watching = new Promise<void>((resolve, reject) => ((acknowledged = resolve), (refused = reject)));
  let oks = url.password ? 2 : 1;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      const text = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (text === '+OK' && oks > 0 && --oks === 0) acknowledged();
      if (text.startsWith('-') && oks > 0) refused(new Error(`MONITOR refused: ${text}`));
      // +<time> [<db> <source>] "arg" "arg" ...
      const m = /^\+\S+ \[(\d+) (\S+)\] "(.*)"$/.exec(text);
      if (!m) continue;
      const line = { db: Number(m[1]), source: m[2]!, args: m[3]!.split('" "') };
      if (keep(line)) lines.push(line);
    }
  });
  if (url.password) socket.write(`AUTH ${decodeURIComponent(url.username || 'default')} ${decodeURIComponent(url.password)}\r\n`);
  socket.write('MONITOR\r\n');
  await watching.catch((err: unknown) => {
    socket.destroy();
    throw err;
  });
  return { lines, stop: () => socket.destroy() };
}

/** Every command Redis runs that names something under `prefix` (tests side by side do not see each other's). */
export async function watchCommands(prefix: string): Promise<{ readonly seen: Seen[]; stop(): void; caughtUp(client: Redis): Promise<void> }> {
  const { lines, stop } = await monitor((line) => line.args.some((a) => a.includes(prefix)));
  let marks = 0;
  return {
    seen: lines,
    stop,
    /**
     * Resolves once the watch has seen a command `client` sends now, so every command Redis ran
     * before it too (MONITOR reports commands in the order they ran); the marker is then dropped
     * from `seen`. Unlike quiet(), does not depend on how fast the stream is read.
     */
    async caughtUp(client: Redis): Promise<void> {
      const mark = `${prefix}caught-up-${++marks}`;
      await client.exists(mark);
      const found = () => lines.findIndex((l) => l.args[1] === mark);
      for (const until = Date.now() + 5000; found() < 0; await quiet(10)) {
        if (Date.now() > until) throw new Error(`MONITOR did not report ${mark} within 5 s`);
      }
      lines.splice(found(), 1);
    },
  };
}

/** MONITOR's stream is read apart from the clients under test: let it catch up. */
export const quiet = (ms = 200): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
