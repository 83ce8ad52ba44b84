/**
 * The bench's chord group (the Canvas issue): celeriac and Python Celery 5.2 each running one
 * chord of `chordTasks` no-op header tasks on the same Redis (chord-row.ts says what both do).
 * Each row runs in its scenarios' row's database (celeriac-redis: the first, celery-py-redis: the
 * fourth), claimed empty and emptied afterwards. Printed as its own table with the issue's
 * target: celeriac's chord at least 5× as fast as Python Celery's.
 */
import type { ScenarioConfig } from '../contestant.js';
import { celeryVersion } from '../contestants.js';
import { describeDurability, type RedisInfo, type RedisServer, type RedisTarget } from '../redis-db.js';
import { perSecond, round } from '../stats.js';
import { celeriacChordRow } from './celeriac-chord.js';
import { celeryChordRow } from './celery-chord.js';
import { CHORD_ROW_NAMES, type ChordRow } from './chord-row.js';

export interface ChordRowResult {
  /** Row name, e.g. "celeriac-redis". */
  readonly contestant: string;
  readonly traits: ChordRow['traits'];
  readonly concurrency: number;
  /** Header tasks. */
  readonly tasks: number;
  /** From just before applying the chord until the body's result was ready (`get()` returned). */
  readonly ms: number;
  /** Header tasks per second of that time. */
  readonly perSecond: number;
  /** From the same start until applying returned. */
  readonly appliedMs: number;
  /** From the same start until the body's result key said SUCCESS (read every 5 ms); null if never seen. */
  readonly bodyStoredMs: number | null;
  readonly headerVerified: number;
  readonly bodySucceeded: boolean;
  readonly workerSucceeded: number;
  /** Worker process CPU time per header task, µs (Python: while its driver ran). */
  readonly workerCpuUsPerTask: number | null;
  readonly problems: string[];
}

export interface ChordTarget {
  readonly contestant: string;
  readonly against: string;
  readonly bound: number;
  /** Rate over rate (the same N on both sides: time over time). */
  readonly value: number;
  readonly met: boolean;
}

export interface ChordGroupResult {
  readonly rows: ChordRowResult[];
  readonly targets: ChordTarget[];
  /** How many times less time celeriac-redis took than celery-py-redis until the body's result was stored (celery's time over celeriac's; not a target: the worker side alone). */
  readonly storedRatio: number | null;
}

export interface ChordGroupOptions {
  readonly redis: RedisServer;
  /** The server's settings; null when it is not reachable. */
  readonly redisInfo: RedisInfo | null;
  /** First of the bench's four databases (the scenarios' rows' ones). */
  readonly redisDb: number;
  readonly python: string;
  /** Names to run (`chord:<row>`); null for every row that can run here. */
  readonly only: readonly string[] | null;
  readonly cpuProfileDir: string | null;
}

const TARGETS: ReadonlyArray<Omit<ChordTarget, 'value' | 'met'>> = [{ contestant: 'celeriac-redis', against: 'celery-py-redis', bound: 5 }];

export async function runChordGroup(options: ChordGroupOptions, config: ScenarioConfig, log: (line: string) => void): Promise<ChordGroupResult | null> {
  const wanted = options.only ? CHORD_ROW_NAMES.filter((n) => options.only!.includes(n)) : [...CHORD_ROW_NAMES];
  if (wanted.length === 0) return null;
  const redis = options.redisInfo;
  if (!redis) {
    const reason = `Redis at ${options.redis.host}:${options.redis.port} is not reachable`;
    if (options.only) throw new Error(`${wanted.join(', ')} cannot run here: ${reason}`);
    log(`leaving out ${wanted.join(', ')}: ${reason}`);
    return null;
  }
  const durability = describeDurability(redis);
  const db = (i: number): RedisTarget => ({ ...options.redis, db: options.redisDb + i, durability });
  const rows: ChordRow[] = [];
  if (wanted.includes('chord:celeriac-redis')) rows.push(celeriacChordRow(db(0), options.cpuProfileDir ?? undefined));
  if (wanted.includes('chord:celery-py-redis')) {
    const version = celeryVersion(options.python);
    if ('error' in version) {
      if (options.only) throw new Error(`chord:celery-py-redis cannot run here: ${version.error}`);
      log(`leaving out chord:celery-py-redis: ${version.error}`);
    } else rows.push(celeryChordRow(db(3), { python: options.python, version: version.version }));
  }
  const results: ChordRowResult[] = [];
  for (const row of rows) {
    log(`${row.name}: chord of ${config.chordTasks} header tasks (concurrency ${config.concurrency})`);
    const f = await row.run(config);
    const problems: string[] = [];
    if (f.tasks !== config.chordTasks) problems.push(`chord: ${f.tasks} header tasks applied, expected ${config.chordTasks}`);
    if (f.headerVerified !== config.chordTasks) problems.push(`chord: ${f.headerVerified} of ${config.chordTasks} header results stored as SUCCESS`);
    if (!f.bodySucceeded) problems.push('chord: the body\'s result is not SUCCESS');
    else if (f.bodyStoredMs === null) problems.push('chord: the body succeeded but its stored result was never seen by the watcher');
    // The untimed round trip, the header tasks and the body.
    if (f.workerSucceeded !== config.chordTasks + 2) problems.push(`chord: the worker reports ${f.workerSucceeded} tasks run, expected ${config.chordTasks + 2}`);
    results.push({
      contestant: row.name,
      traits: row.traits,
      concurrency: config.concurrency,
      tasks: f.tasks,
      ms: round(f.ms),
      perSecond: round(perSecond(f.tasks, f.ms), 1),
      appliedMs: round(f.appliedMs),
      bodyStoredMs: f.bodyStoredMs === null ? null : round(f.bodyStoredMs),
      headerVerified: f.headerVerified,
      bodySucceeded: f.bodySucceeded,
      workerSucceeded: f.workerSucceeded,
      workerCpuUsPerTask: f.workerCpuMs === null ? null : round((f.workerCpuMs * 1000) / f.tasks, 1),
      problems,
    });
  }
  const find = (name: string) => results.find((r) => r.contestant === name);
  const targets = TARGETS.flatMap((spec) => {
    const subject = find(spec.contestant);
    const peer = find(spec.against);
    if (!subject || !peer) return [];
    const value = Math.round((subject.perSecond / peer.perSecond) * 1000) / 1000;
    return [{ ...spec, value, met: value >= spec.bound }];
  });
  const [subject, peer] = [find('celeriac-redis'), find('celery-py-redis')];
  const storedRatio = subject?.bodyStoredMs && peer?.bodyStoredMs ? Math.round((peer.bodyStoredMs / subject.bodyStoredMs) * 1000) / 1000 : null;
  return { rows: results, targets, storedRatio };
}

/** Markdown tables: the rows, what each stores, and the target. */
export function formatChordReport(group: ChordGroupResult): string[] {
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const opt = (v: number | null) => (v === null ? 'n/a' : n(v));
  const lines = [
    '| chord row | header tasks | concurrency | applied (ms) | body stored (ms) | body get() returned (ms) | header tasks/s | worker CPU µs/header task |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    ...group.rows.map((r) => `| ${r.contestant} | ${n(r.tasks)} | ${r.concurrency} | ${n(r.appliedMs)} | ${opt(r.bodyStoredMs)} | ${n(r.ms)} | ${n(r.perSecond)} | ${opt(r.workerCpuUsPerTask)} |`),
    '',
    'Every time is from just before applying the chord; header tasks/s is over the time until get() returned.',
    '',
    '| chord row | broker and results | results stored | durability | acks | worker |',
    '|---|---|---|---|---|---|',
    ...group.rows.map((r) => `| ${r.contestant} | ${r.traits.store} | ${r.traits.resultsStored} | ${r.traits.durability} | ${r.traits.acks} | ${r.traits.worker} |`),
  ];
  if (group.targets.length) lines.push('');
  for (const t of group.targets) lines.push(`target: ${t.contestant} chord >= ${t.bound}× ${t.against}: ${t.met ? 'met' : 'NOT met'} (${t.value.toFixed(2)}×)`);
  if (group.storedRatio !== null) lines.push(`(until the body's result was stored, not a target: ${group.storedRatio.toFixed(2)}×)`);
  return lines;
}
