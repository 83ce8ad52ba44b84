/**
 * What a worker sends when a task in a workflow finishes, checked against what a Python Celery 5.2
 * worker sent for the same messages (fixtures/celery-5.2/canvas/worker-*.json): the messages the
 * Python client published are given to a celeriac worker (tasks of the same names, defined here),
 * and the messages it publishes next — the chain's next step, callbacks, error callbacks, a chord's
 * body — are compared with the Python worker's, ids, times and queue names replaced by tokens.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { App, decodeTaskMessage, MemoryBackend, silentLogger, Worker, type RawMessage } from '../src/index.js';
import { RecordingBroker } from './helpers.js';
import { canonical, comparable, type WireMessage } from './canvas-compare.js';

const DIR = new URL('./fixtures/celery-5.2/canvas/', import.meta.url);

interface WorkerFixture {
  readonly case: string;
  readonly python: string;
  readonly applied_messages: WireMessage[];
  readonly follow_up_messages: WireMessage[];
  readonly result?: { id: string };
  readonly meta?: { result: unknown };
  readonly body_task_id?: string;
  readonly body_meta?: { status: string; result: unknown };
}

/**
 * Cases where celeriac differs on purpose (docs/canvas.md, "Differences from Celery"), with what it
 * does instead: Celery runs an errback whose function takes (request, exc, traceback) in-process;
 * celeriac sends every error callback as a task.
 */
const DIFFERS: Record<string, { readonly why: string; readonly check: (ours: WireMessage[], fixture: WorkerFixture) => void }> = {
  'worker-link-error-inprocess': { why: 'celeriac sends on_err_full as a task (a group of one) instead of calling it in-process', check: errbacksSent },
  'worker-link-error-mixed': { why: 'celeriac sends both errbacks as one group instead of calling on_err_full in-process', check: errbacksSent },
  'worker-link-error-two': { why: 'Celery calls echo (a *args function, so of arity > 1) in-process; celeriac sends both errbacks as one group', check: errbacksSent },
  'worker-chain-to-chord': {
    why: 'Celery 5.2 re-freezes the chord with a new group id (its own bug); celeriac keeps the ids the client froze',
    check: (ours, fixture) => {
      const step = (bodyOf(fixture.applied_messages[0]!).embed.chain as Array<{ kwargs: { header: { options: Record<string, unknown>; kwargs: { tasks: Array<{ options: Record<string, unknown> }> } } } }>)[0]!;
      const header = step.kwargs.header;
      assert.deepEqual(ours.map((m) => m.headers['group']), header.kwargs.tasks.map(() => header.options['task_id']));
      assert.deepEqual(ours.map((m) => m.headers['id']), header.kwargs.tasks.map((t) => t.options['task_id']));
    },
  },
};

/** Every error callback of the failed task went out, as one group, with the failed task's id first. */
function errbacksSent(ours: WireMessage[], fixture: WorkerFixture): void {
  const applied = fixture.applied_messages[0]!;
  const errbacks = bodyOf(applied).embed.errbacks as Array<{ task: string }>;
  assert.deepEqual(ours.map((m) => m.headers['task']), errbacks.map((e) => e.task));
  for (const m of ours) assert.equal((m.body as unknown[][])[0]![0], applied.headers['id']);
  assert.equal(new Set(ours.map((m) => m.headers['group'])).size, 1);
  assert.equal(typeof ours[0]!.headers['group'], 'string');
}

function bodyOf(m: WireMessage): { embed: Record<string, unknown> } {
  return { embed: (m.body as unknown[])[2] as Record<string, unknown> };
}

const fixtures: WorkerFixture[] = readdirSync(DIR)
  .filter((f) => f.startsWith('worker-') && f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as WorkerFixture);

function defineTasks(app: App): void {
  app.task('fixture.add', (_ctx, x: number, y: number) => x + y);
  app.task('fixture.mul', (_ctx, x: number, y: number) => x * y);
  app.task('fixture.xsum', (_ctx, numbers: number[]) => numbers.reduce((a, b) => a + b, 0));
  app.task('fixture.echo', (_ctx, ...args: unknown[]) => [args, {}]);
  app.task({ name: 'fixture.fail', maxRetries: 0 }, () => {
    throw new RangeError('boom'); // stored as Python's ValueError
  });
  app.task('fixture.slow_add', async (_ctx, x: number, y: number) => {
    await new Promise((r) => setTimeout(r, 200));
    return x + y;
  });
  app.task('fixture.on_err', (_ctx, taskId: string) => taskId);
  app.task('fixture.on_err_full', (_ctx, ...args: unknown[]) => args);
}

function toRaw(m: WireMessage): RawMessage {
  const { delivery_info: _info, ...properties } = m.properties;
  return { headers: m.headers, properties, body: JSON.stringify(m.body), contentType: 'application/json', contentEncoding: 'utf-8' };
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a celeriac worker continues workflows as a Celery 5.2 worker does (captured fixtures)', () => {
  it('has the worker fixtures', () => assert.ok(fixtures.length >= 15, `found ${fixtures.length}`));

  for (const fixture of fixtures) {
    it(`${fixture.case}: ${fixture.python}`, async () => {
      const work = fixture.applied_messages[0]!.queue;
      const base = work.replace(/-w$/, '');
      const queues = { [work]: '<WORK>', [base]: '<Q>', [`${base}-q2`]: '<Q2>' };
      const broker = new RecordingBroker();
      const app = new App({ broker, backend: new MemoryBackend(), logger: silentLogger, defaultQueue: base });
      defineTasks(app);
      await app.connect();
      // What the Python client recorded when it applied a chord: its size (Redis `.s`).
      const sizes = new Map<string, number>();
      for (const m of fixture.applied_messages) {
        const gid = m.headers['group'];
        if (typeof gid === 'string' && (m.body as unknown[])[2] && ((m.body as unknown[])[2] as { chord?: unknown }).chord) sizes.set(gid, (sizes.get(gid) ?? 0) + 1);
      }
      for (const [gid, size] of sizes) await app.backend!.chords!.setSize(gid, size);
      for (const m of fixture.applied_messages) await broker.publish(toRaw(m), { queue: m.queue, priority: 0 });
      const sent = broker.published.length;
      const worker = Worker.create(app, { queues: [work], concurrency: 4 });
      const running = worker.run();
      try {
        const expected = fixture.follow_up_messages.map(comparable);
        const followUps = () =>
          broker.published.slice(sent).map((p) => {
            const m = decodeTaskMessage(p.message);
            return comparable({ queue: p.options.queue, headers: m.headers, properties: m.properties, body: [m.args, m.kwargs, m.embed] });
          });
        const lastId = fixture.applied_messages.at(-1)!.headers['id'] as string;
        // Everything the applied messages lead to has happened once their results are stored and
        // the expected number of messages went out (chord bodies wait for the last part).
        await until(async () => (await app.backend!.get(lastId)) !== null && broker.published.length - sent >= (DIFFERS[fixture.case] ? 1 : expected.length));
        await new Promise((r) => setTimeout(r, 100)); // nothing more should follow
        const ours = followUps();
        if (fixture.meta) {
          const id = fixture.result!.id;
          await until(async () => (await app.backend!.get(id))?.status === 'SUCCESS');
          assert.deepEqual(canonical((await app.backend!.get(id))!.result, queues), canonical(fixture.meta.result, queues));
        }
        if (fixture.body_meta) {
          await until(async () => (await app.backend!.get(fixture.body_task_id!)) !== null);
          const meta = (await app.backend!.get(fixture.body_task_id!))!;
          assert.equal(meta.status, fixture.body_meta.status);
          assert.deepEqual(canonical(meta.result, queues), canonical(fixture.body_meta.result, queues));
        }
        const differs = DIFFERS[fixture.case];
        if (differs) {
          differs.check(ours, fixture);
          return;
        }
        assert.deepEqual(canonical(ours, queues), canonical(expected, queues));
      } finally {
        await worker.shutdown();
        await running;
        await app.close();
      }
    });
  }
});
