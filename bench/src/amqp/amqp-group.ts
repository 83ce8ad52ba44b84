/**
 * The bench's AMQP group (issue 4): celeriac, a raw amqplib loop and Python Celery 5.2 on the same
 * RabbitMQ, end to end only (amqp-row.ts says what every row does). Printed as its own table with
 * the targets: celeriac at least 5× Python Celery and at least 50% of the raw loop.
 */
import type { ScenarioConfig } from '../contestant.js';
import { celeryVersion } from '../contestants.js';
import { perSecond } from '../stats.js';
import { AMQP_ROW_NAMES, type AmqpRow } from './amqp-row.js';
import { probeAmqp } from './amqp-server.js';
import { celeriacAmqpRow } from './celeriac-amqp.js';
import { celeryAmqpRow } from './celery-amqp.js';
import { rawAmqpRow } from './raw-amqp.js';

export interface AmqpRowResult {
  readonly contestant: string;
  readonly traits: AmqpRow['traits'];
  readonly tasks: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly verified: number;
  readonly workerSucceeded: number;
  readonly workerCpuMsPerTask: number | null;
  readonly problems: string[];
}

export interface AmqpTarget {
  readonly against: string;
  readonly bound: number;
  readonly value: number;
  readonly met: boolean;
}

export interface AmqpGroupResult {
  readonly server: string | null;
  readonly rows: AmqpRowResult[];
  readonly targets: AmqpTarget[];
}

export interface AmqpGroupOptions {
  readonly url: string;
  readonly python: string;
  /** Row names to run; null for every one that can run here. */
  readonly only: readonly string[] | null;
  readonly cpuProfileDir: string | null;
}

const TARGETS: ReadonlyArray<{ against: string; bound: number }> = [
  { against: 'celery-py-amqp', bound: 5 },
  { against: 'raw-amqplib', bound: 0.5 },
];

export async function runAmqpGroup(options: AmqpGroupOptions, config: ScenarioConfig, log: (line: string) => void): Promise<AmqpGroupResult | null> {
  const wanted = options.only ? AMQP_ROW_NAMES.filter((n) => options.only!.includes(n)) : [...AMQP_ROW_NAMES];
  if (wanted.length === 0) return null;
  const server = await probeAmqp(options.url);
  if ('error' in server) {
    if (options.only) throw new Error(`${wanted.join(', ')} cannot run here: ${server.error}`);
    log(`leaving out ${wanted.join(', ')}: ${server.error}`);
    return null;
  }
  log(`RabbitMQ ${server.version} at ${options.url}`);
  const rows: AmqpRow[] = [];
  if (wanted.includes('celeriac-amqp')) rows.push(celeriacAmqpRow(server, options.cpuProfileDir ?? undefined));
  if (wanted.includes('raw-amqplib')) rows.push(rawAmqpRow(server));
  if (wanted.includes('celery-py-amqp')) {
    const version = celeryVersion(options.python, 'amqp');
    if ('error' in version) {
      if (options.only) throw new Error(`celery-py-amqp cannot run here: ${version.error}`);
      log(`leaving out celery-py-amqp: ${version.error}`);
    } else rows.push(celeryAmqpRow(server, options.python, version.version));
  }
  const results: AmqpRowResult[] = [];
  for (const row of rows) {
    log(`${row.name}: end to end, ${config.tasks} tasks`);
    const f = await row.endToEnd(config);
    const problems: string[] = [];
    if (f.verified !== f.tasks) problems.push(`${f.verified} of ${f.tasks} results verified`);
    if (f.workerSucceeded < f.tasks) problems.push(`the worker reports ${f.workerSucceeded} of ${f.tasks} tasks run`);
    results.push({
      contestant: row.name,
      traits: row.traits,
      tasks: f.tasks,
      ms: Math.round(f.ms),
      perSecond: Math.round(perSecond(f.tasks, f.ms)),
      verified: f.verified,
      workerSucceeded: f.workerSucceeded,
      workerCpuMsPerTask: f.workerCpuMs === null ? null : Math.round((f.workerCpuMs * 1000) / f.tasks) / 1000,
      problems,
    });
  }
  const celeriac = results.find((r) => r.contestant === 'celeriac-amqp');
  const targets = TARGETS.flatMap(({ against, bound }) => {
    const peer = results.find((r) => r.contestant === against);
    if (!celeriac || !peer) return [];
    const value = Math.round((celeriac.perSecond / peer.perSecond) * 1000) / 1000;
    return [{ against, bound, value, met: value >= bound }];
  });
  return { server: server.version, rows: results, targets };
}

/** Markdown tables: the rows, what each stores, and the targets. */
export function formatAmqpReport(group: AmqpGroupResult): string[] {
  const lines = [
    '| AMQP row | end to end (tasks/s) | tasks | worker CPU µs/task |',
    '|---|--:|--:|--:|',
    ...group.rows.map((r) => `| ${r.contestant} | ${r.perSecond.toLocaleString('en-US')} | ${r.tasks.toLocaleString('en-US')} | ${r.workerCpuMsPerTask === null ? 'n/a' : Math.round(r.workerCpuMsPerTask * 1000)} |`),
    '',
    '| AMQP row | broker and results | results | durability | acks | worker |',
    '|---|---|---|---|---|---|',
    ...group.rows.map((r) => `| ${r.contestant} | ${r.traits.store} | ${r.traits.resultsStored} | ${r.traits.durability} | ${r.traits.acks} | ${r.traits.worker} |`),
  ];
  if (group.targets.length) lines.push('');
  for (const t of group.targets) lines.push(`target: celeriac-amqp end to end >= ${t.bound}× ${t.against}: ${t.met ? 'met' : 'NOT met'} (${t.value.toFixed(2)}×)`);
  return lines;
}
