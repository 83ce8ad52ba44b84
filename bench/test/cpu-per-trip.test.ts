/**
 * The latency scenario's CPU accounting (cpu-per-trip.ts): CPU spent by a process this one started
 * (and by its children) is the worker's, this process's own is the producer's, and the Redis
 * server is found only when it runs here. Linux only (/proc schedstat); skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { it } from 'node:test';
import { descendants, watchCpu } from '../src/cpu-per-trip.js';
import { localServerPid, probeRedis } from '../src/redis-db.js';

const linux = existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`);

/** A Node child that runs `code`, prints "ready" and stays until its stdin closes. */
async function child(code: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['-e', `${code}; console.log('ready'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  while (!out.includes('ready')) {
    const [chunk] = (await once(proc.stdout!, 'data')) as [Buffer];
    out += chunk.toString();
  }
  return proc;
}

async function end(proc: ChildProcess): Promise<void> {
  const exited = once(proc, 'exit');
  proc.stdin!.end();
  await exited;
}

it('counts the processes this one started, their children too, as the worker', { skip: !linux && 'needs Linux /proc' }, async () => {
  // A child whose own child stays alive: both are below this process.
  const parent = await child(`const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(c.pid)`);
  try {
    const below = descendants(process.pid);
    assert.ok(below.includes(parent.pid!), `the child ${parent.pid} is in ${below.join(',')}`);
    assert.ok(below.length >= 2, `its child is there too: ${below.join(',')}`);
  } finally {
    for (const pid of descendants(parent.pid!)) process.kill(pid);
    await end(parent);
  }
});

it("splits a round trip's CPU into the producer's and the worker's", { skip: !linux && 'needs Linux /proc' }, async () => {
  const watch = watchCpu(null);
  assert.ok(watch, 'schedstat readable on Linux');
  // The worker: spends at least 40 ms of CPU on its main thread, then waits.
  const worker = await child(`const t = process.cpuUsage(); while (process.cpuUsage(t).user < 40000) {}`);
  // The producer: some CPU of its own.
  const t = process.cpuUsage();
  while (process.cpuUsage(t).user < 20_000) {}
  try {
    const cpu = watch.stop(2);
    assert.ok(cpu.worker, 'the child is counted');
    // Per trip (2 trips): at least 40 ms / 2 on the worker's main thread, 20 ms / 2 on ours.
    assert.ok(cpu.worker.mainUs >= 15_000, `worker main ${cpu.worker.mainUs} µs per trip`);
    assert.ok(cpu.client.mainUs >= 7_500, `producer main ${cpu.client.mainUs} µs per trip`);
    assert.equal(cpu.server, null, 'no server asked for');
  } finally {
    await end(worker);
  }
});

it('finds the local Redis server by the process id it reports, and no other', async (t) => {
  const server = { host: '127.0.0.1', port: 6379 };
  const info = await probeRedis(server);
  if ('error' in info) {
    if (process.env['CI']) assert.fail(info.error);
    return t.skip(info.error);
  }
  assert.equal(await localServerPid({ host: '192.0.2.1', port: 6379 }), null, 'a server on another host is not looked for');
  const pid = await localServerPid(server);
  if (!linux) return assert.equal(pid, null);
  // A Redis answering on 127.0.0.1 from a container (a published port) is not this machine's process.
  if (pid === null) return t.skip('the Redis on 127.0.0.1:6379 is not a process of this machine (a container?)');
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /redis-server/);
  const watch = watchCpu(pid);
  const cpu = watch!.stop(1);
  assert.ok(cpu.server, 'its threads are read');
});
