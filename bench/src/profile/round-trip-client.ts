/**
 * The producer of instructions.ts: `<trips>` round trips one after another (send the no-op, await
 * its result), as the latency scenario's; before round trip `<from>` it has callgrind zero its
 * counters and before `<to>` dump them, in the process `<vgdb>` names: a pid (the worker, told
 * and waited for) or `self` (this process, told without waiting: the round trips at which each
 * command took effect are reported). Prints `{ zeroAt, dumpAt }` as JSON on its last line.
 * `argv: <url> <trips> <from> <to> <vgdb>`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createBenchApp } from '../celeriac/bench-app.js';

const [url, tripsText, fromText, toText, vgdb] = process.argv.slice(2);
const [trips, from, to] = [tripsText, fromText, toText].map(Number) as [number, number, number];
if (!url || !vgdb || !(trips > to && to > from && from >= 0)) throw new Error('usage: round-trip-client.ts <url> <trips> <from> <to> <pid|self>');

const bench = createBenchApp(url);
await bench.app.connect();
let trip = 0;
const at: Record<string, number> = {};
const tell = (command: 'zero' | 'dump') => {
  if (vgdb !== 'self') {
    // Throws when vgdb fails or takes over a minute: no figure rather than a wrong one.
    execFileSync('vgdb', [`--pid=${vgdb}`, command], { stdio: 'ignore', timeout: 60_000 });
    at[command] = trip;
    return;
  }
  // Told from a child: this process carries on and takes the command at its next poll. Recorded
  // only when it was taken (a zero that failed would leave start-up in the count).
  spawn('vgdb', [`--pid=${process.pid}`, command], { stdio: 'ignore' }).on('exit', (code) => {
    if (code === 0) at[command] = trip;
  });
};
for (; trip < trips; trip++) {
  if (trip === from) tell('zero');
  if (trip === to) tell('dump');
  const result = await bench.noop.delay();
  await result.get({ timeout: 120_000 });
}
await bench.app.close();
console.log(JSON.stringify({ zeroAt: at['zero'], dumpAt: at['dump'] }));
