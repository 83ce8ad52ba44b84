/**
 * Where the CPU of a latency round trip goes: on-CPU time of the producer (this process), of the
 * worker (every process this one started: the row's worker child) and of the broker's server
 * (Redis, when it runs on this machine), each split into the main thread and the other threads
 * (V8's compiler and GC helpers, libuv's pool, Redis's background threads), per timed round
 * trip; with the time the main threads spent runnable but waiting for a CPU.
 *
 * On a machine with few CPUs a round trip of three busy processes is bound by their CPU time as
 * much as by the network: whatever any of them (or their compiler threads) spends, the others
 * wait for. The figures come from Linux's `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on
 * CPU, nanoseconds waiting on a run queue), read before and after the timed round trips; on
 * another system there are none (null).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** One process's part, in µs per round trip. */
export interface PartCpu {
  /** On CPU, main thread. */
  readonly mainUs: number;
  /** On CPU, all other threads together. */
  readonly othersUs: number;
  /** Runnable but waiting for a CPU, main thread. */
  readonly mainWaitUs: number;
}

export interface RoundTripCpu {
  readonly client: PartCpu;
  /** The processes this one started (null: none, e.g. a worker inside this process). */
  readonly worker: PartCpu | null;
  /** The broker's server (null: not on this machine, or none). */
  readonly server: PartCpu | null;
}

interface Times {
  mainRun: number;
  mainWait: number;
  othersRun: number;
}

export interface CpuWatch {
  /** The CPU each part used since the watch started, divided by `trips`. */
  stop(trips: number): RoundTripCpu;
}

/**
 * Starts watching this process, its descendants and `serverPid` (null: no server); null where
 * /proc has no schedstat (not Linux, or a kernel without schedstats).
 */
export function watchCpu(serverPid: number | null): CpuWatch | null {
  const self = processTimes(process.pid);
  // A kernel without schedstats reports zeros: no figures rather than a table of them.
  if (!self || self.mainRun === 0) return null;
  const workersAtStart = descendants(process.pid);
  const before = {
    client: self,
    workers: new Map(workersAtStart.map((pid) => [pid, processTimes(pid)] as const)),
    server: serverPid === null ? null : processTimes(serverPid),
  };
  return {
    stop(trips) {
      const client = processTimes(process.pid) ?? before.client;
      // A worker that started during the trips counts from zero; one that ended is gone (counted as nothing).
      const pids = new Set([...workersAtStart, ...descendants(process.pid)]);
      let worker: Times | null = null;
      for (const pid of pids) {
        const now = processTimes(pid);
        if (!now) continue;
        worker = add(worker, minus(now, before.workers.get(pid) ?? null));
      }
      const server = serverPid !== null && before.server ? processTimes(serverPid) : null;
      return {
        client: perTrip(minus(client, before.client), trips),
        worker: worker && perTrip(worker, trips),
        server: server && perTrip(minus(server, before.server), trips),
      };
    },
  };
}

/** The process's threads' times (ns), or null when it is gone or has no schedstat. */
function processTimes(pid: number): Times | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const times: Times = { mainRun: 0, mainWait: 0, othersRun: 0 };
  let read = false;
  for (const tid of tids) {
    const stat = schedstat(`/proc/${pid}/task/${tid}/schedstat`);
    if (!stat) continue;
    read = true;
    if (Number(tid) === pid) {
      times.mainRun += stat.run;
      times.mainWait += stat.wait;
    } else {
      times.othersRun += stat.run;
    }
  }
  return read ? times : null;
}

/** `run wait slices` (ns, ns, count), or null. */
function schedstat(path: string): { run: number; wait: number } | null {
  try {
    const [run, wait] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { run: run!, wait: wait! } : null;
  } catch {
    return null;
  }
}

/** Every process below `pid` (children of any of its threads, recursively). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (parent: number) => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${parent}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let text = '';
      try {
        text = readFileSync(`/proc/${parent}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of text.split(/\s+/).filter(Boolean).map(Number)) {
        if (out.includes(child)) continue;
        out.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return out;
}

function minus(now: Times, then: Times | null): Times {
  if (!then) return now;
  return { mainRun: now.mainRun - then.mainRun, mainWait: now.mainWait - then.mainWait, othersRun: now.othersRun - then.othersRun };
}

function add(sum: Times | null, t: Times): Times {
  if (!sum) return t;
  return { mainRun: sum.mainRun + t.mainRun, mainWait: sum.mainWait + t.mainWait, othersRun: sum.othersRun + t.othersRun };
}

function perTrip(t: Times, trips: number): PartCpu {
  const us = (ns: number) => Math.round((ns / 1000 / Math.max(1, trips)) * 10) / 10;
  return { mainUs: us(t.mainRun), othersUs: us(t.othersRun), mainWaitUs: us(t.mainWait) };
}
