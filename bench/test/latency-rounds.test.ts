/**
 * The latency rounds (src/latency-rounds.ts) on made-up rows: the order they run in, each round's
 * ratios and their median, the counts checked, and when there is nothing to run. The real rows in
 * rounds are run by bench-smoke.test.ts.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Contestant, LatencyFigures, ScenarioConfig } from '../src/contestant.js';
import { median, runLatencyRounds } from '../src/latency-rounds.js';
import { evaluateTargets } from '../src/targets.js';

const config: ScenarioConfig = { tasks: 10, batch: 5, concurrency: 2, lowConcurrency: 1, latencyRuns: 3, warmup: 1, settle: 2, latencyRounds: 3, chordTasks: 1 };

/** A row whose latency scenario gives, call after call, the next of `warmedP50s` (new worker: twice that). */
function row(name: string, warmedP50s: number[], calls: string[], ran = config.warmup + 2 * config.latencyRuns + config.settle, dropNew = false): Contestant {
  let n = 0;
  const unused = () => Promise.reject(new Error('not in the rounds'));
  return {
    name,
    traits: { store: '', resultsStored: '', durability: '', acks: '', worker: '' },
    bulk: unused,
    endToEnd: unused,
    async latency(): Promise<LatencyFigures> {
      calls.push(name);
      const v = warmedP50s[n++]!;
      const newSamplesMs = dropNew ? [2 * v, 2 * v] : [2 * v, 2 * v, 2 * v];
      return { newSamplesMs, samplesMs: [v / 2, v, 3 * v], workerSucceeded: ran };
    },
  };
}

it('runs the rows in alternating order and judges the p50 target on the median of the rounds', async () => {
  const calls: string[] = [];
  // The median (1.1) is neither the first nor the last round's ratio.
  const rows = [row('bee-queue-redis', [0.2, 0.2, 0.2], calls), row('celeriac-redis', [0.1, 0.22, 0.3], calls), row('bullmq-redis', [9, 9, 9], calls), row('raw-ioredis-redis', [0.4, 0.4, 0.4], calls)];
  const rounds = (await runLatencyRounds(rows, config, 3, () => {}))!;
  // Rows in ROUND_ROWS order (not the lineup's), the others left out; round 2 reversed.
  const order = ['celeriac-redis', 'bee-queue-redis', 'raw-ioredis-redis'];
  assert.deepEqual(rounds.rows, order);
  assert.deepEqual(calls, [...order, ...[...order].reverse(), ...order]);
  assert.deepEqual(rounds.problems, []);
  assert.deepEqual(rounds.rounds[2]!.figures['celeriac-redis'], { p50Ms: 0.3, p99Ms: 0.9, p50NewMs: 0.6 });
  const pair = rounds.ratios.find((q) => q.subject === 'celeriac-redis' && q.peer === 'bee-queue-redis')!;
  assert.deepEqual(pair.p50, [0.5, 1.1, 1.5]);
  assert.equal(pair.p50Median, 1.1);
  assert.deepEqual(rounds.ratios.map((q) => `${q.subject}/${q.peer}`), ['celeriac-redis/bee-queue-redis', 'celeriac-redis/raw-ioredis-redis', 'bee-queue-redis/raw-ioredis-redis']);

  // The target takes the rounds' median (1.1: not met), though the main run's rows say 0.5.
  const mainRun = (name: string, p50Ms: number) => ({ contestant: name, latency: { p50Ms } }) as never;
  const [target] = evaluateTargets([mainRun('celeriac-redis', 0.1), mainRun('bee-queue-redis', 0.2)]);
  assert.deepEqual([target!.value, target!.met, target!.basis], [0.5, true, 'run']);
  const [judged] = evaluateTargets([mainRun('celeriac-redis', 0.1), mainRun('bee-queue-redis', 0.2)], rounds);
  assert.deepEqual([judged!.value, judged!.met, judged!.basis, judged!.rounds], [1.1, false, 'rounds', 3]);
});

it('keeps the main run as the basis when bee-queue was not in the rounds', async () => {
  const calls: string[] = [];
  const rounds = (await runLatencyRounds([row('celeriac-redis', [0.3, 0.3, 0.3], calls), row('raw-ioredis-redis', [0.1, 0.1, 0.1], calls)], config, 3, () => {}))!;
  assert.deepEqual(rounds.ratios.map((q) => `${q.subject}/${q.peer}`), ['celeriac-redis/raw-ioredis-redis']);
  const mainRun = (name: string, p50Ms: number) => ({ contestant: name, latency: { p50Ms } }) as never;
  const [target] = evaluateTargets([mainRun('celeriac-redis', 0.1), mainRun('bee-queue-redis', 0.2)], rounds);
  assert.deepEqual([target!.value, target!.basis], [0.5, 'run']);
});

it('reports a round whose counts do not add up', async () => {
  const calls: string[] = [];
  const rows = [row('celeriac-redis', [0.1, 0.1], calls), row('bee-queue-redis', [0.1, 0.1], calls, 5)];
  const rounds = (await runLatencyRounds(rows, config, 2, () => {}))!;
  assert.deepEqual(rounds.problems, ['bee-queue-redis round 1: tasks the worker ran: 5, expected 9', 'bee-queue-redis round 2: tasks the worker ran: 5, expected 9']);
  const short = (await runLatencyRounds([row('celeriac-redis', [0.1], []), row('bee-queue-redis', [0.1], [], undefined, true)], config, 1, () => {}))!;
  assert.deepEqual(short.problems, ['bee-queue-redis round 1: round trips timed on the new worker: 2, expected 3']);
});

it('runs nothing with no rounds asked for, or fewer than two of its rows', async () => {
  const calls: string[] = [];
  assert.equal(await runLatencyRounds([row('celeriac-redis', [1], calls), row('bee-queue-redis', [1], calls)], config, 0, () => {}), null);
  assert.equal(await runLatencyRounds([row('celeriac-redis', [1], calls), row('bullmq-redis', [1], calls)], config, 3, () => {}), null);
  assert.deepEqual(calls, []);
});

it('takes the middle value, or the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
