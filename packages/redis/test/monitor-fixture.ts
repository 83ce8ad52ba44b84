/**
 * Watching what Redis runs (MONITOR), for tests about how many commands and round trips an
 * operation costs. Only commands naming something under the test's own prefix are kept, so tests
 * running side by side on the same server do not see each other's.
 */
import { connect } from 'node:net';
import { REDIS_URL } from './backend-fixture.js';

export interface Seen {
  readonly args: readonly string[];
  /** The client's address, or 'lua' for a command a script ran. */
  readonly source: string;
}

/**
 * Every command Redis runs that names something under `prefix`, as MONITOR reports it. Read from a
 * plain socket: ioredis's monitor mode can take a monitor line for a command reply when the server
 * is busy ("Command queue state error").
 */
export async function watchCommands(prefix: string): Promise<{ readonly seen: Seen[]; stop(): void }> {
  const url = new URL(REDIS_URL);
  const socket = connect(Number(url.port || 6379), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const seen: Seen[] = [];
  let buffered = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      // +<time> [<db> <source>] "arg" "arg" ...
      const open = line.indexOf('[');
      const quote = line.indexOf('"');
      if (!line.startsWith('+') || open < 0 || quote < 0) continue;
      const source = line.slice(open + 1, line.indexOf(']')).split(' ')[1] ?? '';
      const args = line.slice(quote + 1, -1).split('" "');
      if (args.some((a) => a.includes(prefix))) seen.push({ args, source });
    }
  });
  if (url.password) socket.write(`AUTH ${decodeURIComponent(url.username || 'default')} ${decodeURIComponent(url.password)}\r\n`);
  socket.write('MONITOR\r\n');
  return { seen, stop: () => socket.destroy() };
}

/** MONITOR's stream is read apart from the clients under test: let it catch up. */
export const quiet = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));
