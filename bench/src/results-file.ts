/**
 * The JSON record of a run: the figures of every row plus what they were measured on (machine,
 * Node, commit, sizes), written as `<dir>/bench-<ISO time>.json` and copied to `<dir>/latest.json`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ScenarioConfig } from './contestant.js';
import type { RedisInfo } from './redis-db.js';
import type { AmqpGroupResult } from './amqp/amqp-group.js';
import type { ChordGroupResult } from './chord/chord-group.js';
import type { LatencyRounds } from './latency-rounds.js';
import type { RowResult } from './runner.js';
import type { Target } from './targets.js';

/**
 * Bumped when the shape of the file changes (2: `processLow`, `redis`, targets with ratios;
 * 3: `amqp`; 4: `chord` and `config.chordTasks`; 5: `config.settle`, a row's `latency` is the
 * warmed worker's window and `latency.newWorker` the new worker's: before 5, `latency` was a window
 * that began after `warmup` round trips; 6: `latencyRounds`, `config.latencyRounds`, a target's
 * `basis`). Older fields keep their meaning otherwise.
 */
export const RESULTS_SCHEMA = 6;

export interface Machine {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  /** 1-minute load average when the run started: well above 0 means other work competed. */
  readonly loadAverage: number;
}

export interface RunRecord {
  readonly schema: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: Machine;
  readonly commit: { readonly sha: string | null; readonly dirty: boolean | null };
  readonly config: ScenarioConfig;
  /** The Redis server of the Redis rows (version, persistence settings); null when not reachable. */
  readonly redis: RedisInfo | null;
  readonly rows: readonly RowResult[];
  /** The latency rounds (latency-rounds.ts); null when they did not run. */
  readonly latencyRounds: LatencyRounds | null;
  readonly targets: readonly Target[];
  /** The AMQP rows (end to end on RabbitMQ) and their targets; null when they did not run. */
  readonly amqp: AmqpGroupResult | null;
  /** The chord rows (one chord of `config.chordTasks` header tasks on Redis) and their target; null when they did not run. */
  readonly chord: ChordGroupResult | null;
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** The checked-out commit and whether the tree has changes; nulls outside a git checkout. */
export function describeCommit(): RunRecord['commit'] {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { sha: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain') !== '' };
  } catch {
    return { sha: null, dirty: null };
  }
}

/** Writes the record; returns the paths written. */
export function writeRunRecord(dir: string, record: RunRecord): string[] {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(record, null, 2)}\n`;
  // Colons are not allowed in file names everywhere.
  const stamped = join(dir, `bench-${record.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  const latest = join(dir, 'latest.json');
  writeFileSync(stamped, text);
  writeFileSync(latest, text);
  return [stamped, latest];
}
