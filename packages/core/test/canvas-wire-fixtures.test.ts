/**
 * The canvas on the wire, checked against what real Celery 5.2 sent for the same workflows
 * (fixtures/celery-5.2/canvas/*.json, captured by capture_canvas.py): each case is built here with
 * celeriac's functions, its signature compared with Python's, then applied on a recording memory
 * broker and its messages compared with Python's — headers, properties and body — after ids,
 * timestamps and queue names are replaced by tokens in order of appearance (they are random or
 * per run on both sides). Every captured apply case must have a builder in the table below.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  App,
  chain,
  chord,
  chunks,
  decodeTaskMessage,
  group,
  link,
  linkError,
  map,
  MemoryBackend,
  partial,
  signature,
  silentLogger,
  starmap,
  withOptions,
  type CanvasApplyOptions,
  type Signature,
} from '../src/index.js';
import { RecordingBroker } from './helpers.js';
import { canonical, comparable } from './canvas-compare.js';

const DIR = new URL('./fixtures/celery-5.2/canvas/', import.meta.url);

interface Fixture {
  readonly case: string;
  readonly python_build?: string;
  readonly python_apply?: string;
  readonly signature?: unknown;
  readonly messages?: ReadonlyArray<{ queue: string; headers: Record<string, unknown>; properties: Record<string, unknown>; body: unknown }>;
  readonly result?: { id?: string };
}

/** The names the capture used: its default queue, Q2, and the fixed id some cases pass. */
interface Names {
  readonly q: string;
  readonly q2: string;
  readonly fixedId: string | undefined;
}

const s = (task: string, ...args: unknown[]) => signature(`fixture.${task}`, { args });
const si = (task: string, ...args: unknown[]) => signature(`fixture.${task}`, { args, immutable: true });

/** Each captured case built with celeriac: the signature and how it is applied. */
const CASES: Record<string, (n: Names) => { sig: Signature; apply?: CanvasApplyOptions }> = {
  'sig-s': () => ({ sig: s('add', 2, 2) }),
  'sig-si': () => ({ sig: si('add', 2, 2) }),
  'sig-partial': () => ({ sig: s('add', 2), apply: { args: [3] } }),
  'sig-partial-immutable': () => ({ sig: si('add', 2, 2), apply: { args: [3] } }),
  'sig-set-options': (n) => ({ sig: withOptions(s('add', 2), { countdown: 5, queue: n.q2 }), apply: { args: [3] } }),
  'sig-clone': () => ({ sig: partial(signature('fixture.echo', { args: [2], kwargs: { a: 1 } }), [3], { b: 2 }) }),
  'sig-link': () => ({ sig: link(s('add', 1, 1), s('mul', 2)) }),
  'sig-on-error': () => ({ sig: linkError(s('add', 1, 1), s('on_err')) }),
  'sig-link-and-error': () => ({
    sig: linkError(linkError(link(link(s('add', 1, 1), s('mul', 2)), s('echo', 'second')), s('on_err')), s('on_err_full')),
  }),
  chain: () => ({ sig: chain(s('add', 2, 2), s('mul', 4), s('add', 1)) }),
  'chain-pipe': () => ({ sig: chain(s('add', 2, 2), s('mul', 4), s('add', 1)) }),
  'chain-immutable-step': () => ({ sig: chain(s('add', 2, 2), si('mul', 5, 5), s('add', 1)) }),
  'chain-partial': () => ({ sig: chain(s('add', 2), s('mul', 4)), apply: { args: [10] } }),
  'chain-apply-options': (n) => ({ sig: chain(s('add', 2, 2), s('mul', 4)), apply: { countdown: 5, queue: n.q2, priority: 3 } }),
  'chain-step-options': (n) => ({
    sig: chain(s('add', 2, 2), withOptions(s('mul', 4), { queue: n.q2, countdown: 10 }), withOptions(s('add', 1), { priority: 5 })),
  }),
  'chain-task-id': (n) => ({ sig: chain(s('add', 1, 1), s('mul', 2)), apply: { taskId: n.fixedId! } }),
  'chain-link': () => ({ sig: chain(s('add', 1, 1), s('mul', 2)), apply: { link: s('echo', 'done') } }),
  'link-apply-async': () => ({ sig: s('add', 1, 2), apply: { link: s('mul', 3), linkError: s('on_err') } }),
  'link-immutable': () => ({ sig: s('add', 1, 2), apply: { link: si('mul', 5, 5) } }),
  'link-two': () => ({ sig: s('add', 1, 2), apply: { link: [s('mul', 3), s('echo', 'x')], linkError: [s('on_err'), s('on_err_full')] } }),
  'chain-on-error': () => ({ sig: linkError(chain(s('add', 1, 1), s('mul', 2), s('add', 3)), s('on_err')) }),
  group: () => ({ sig: group(s('add', 1, 1), s('add', 2, 2)) }),
  'group-one': () => ({ sig: group(s('add', 1, 1)) }),
  'group-partial': () => ({ sig: group(s('add', 1), s('add', 2)), apply: { args: [10] } }),
  'group-options': (n) => ({ sig: group(s('add', 1, 1), s('add', 2, 2)), apply: { queue: n.q2, countdown: 5 } }),
  'group-task-id': (n) => ({ sig: group(s('add', 1, 1), s('add', 2, 2)), apply: { taskId: n.fixedId! } }),
  chord: () => ({ sig: chord([s('add', 1, 1), s('add', 2, 2)], s('xsum')) }),
  'chord-call-form': () => ({ sig: chord([s('add', 1, 1), s('add', 2, 2)], s('xsum')) }),
  'chord-group-pipe': () => ({ sig: chord(group(s('add', 1, 1), s('add', 2, 2)), s('xsum')) }),
  'chord-options': (n) => ({ sig: chord([s('add', 1, 1), s('add', 2, 2)], s('xsum')), apply: { queue: n.q2, countdown: 5 } }),
  'chord-body-link-error': () => ({ sig: chord([s('add', 1, 1), s('add', 2, 2)], linkError(s('xsum'), s('on_err'))) }),
  'chord-empty-header': () => ({ sig: chord([], s('xsum')) }),
  map: () => ({ sig: map(s('echo'), [1, 2, 3]) }),
  starmap: () => ({ sig: starmap(s('add'), [[1, 2], [3, 4]]) }),
  chunks: () => ({ sig: chunks(s('add'), Array.from({ length: 10 }, (_, i) => [i, i]), 3) }),
  'chunks-group': () => ({ sig: chunks(s('add'), Array.from({ length: 10 }, (_, i) => [i, i]), 3) }),
  'nested-chain-in-chain': () => ({ sig: chain(s('add', 1, 1), chain(s('mul', 2), s('add', 3))) }),
  'nested-chain-ending-group': () => ({ sig: chain(s('add', 1, 1), group(s('add', 1), s('add', 2))) }),
  'nested-chain-group-task': () => ({ sig: chain(s('add', 1, 1), group(s('add', 1), s('add', 2)), s('xsum')) }),
  'nested-chain-starting-group': () => ({ sig: chain(group(s('add', 1, 1), s('add', 2, 2)), s('xsum'), s('mul', 2)) }),
  'nested-chain-chord-task': () => ({ sig: chain(chord([s('add', 1, 1), s('add', 2, 2)], s('xsum')), s('mul', 2)) }),
  'nested-chain-chord-body-chain': () => ({ sig: chord([s('add', 1, 1), s('add', 2, 2)], chain(s('xsum'), s('mul', 2))) }),
  'nested-chord-chain-header': () => ({ sig: chord([chain(s('add', 1, 1), s('mul', 2)), s('add', 3, 3)], s('xsum')) }),
  'nested-chord-group-header': () => ({ sig: chord([group(s('add', 1, 1), s('add', 2, 2)), s('add', 3, 3)], s('xsum')) }),
  'nested-group-in-group': () => ({ sig: group(group(s('add', 1, 1), s('add', 2, 2)), s('add', 3, 3)) }),
  'nested-group-of-chain': () => ({ sig: group(chain(s('add', 1, 1), s('mul', 2)), s('add', 3, 3)) }),
};

/** Cases whose Python signature is another shape built for the same messages (said why). */
const SIGNATURE_DIFFERS: Record<string, string> = {
  'chunks-group': 'Python called .group() first; celeriac applies the chunks signature, which sends the same group',
  'chord-call-form': 'Python built the chord without a body and passed it at call time',
};

/**
 * Cases where celeriac sends the same messages in another order, on purpose (docs/canvas.md):
 * compared without `group_index`, message by message, in the order of their arguments.
 */
const ORDER_DIFFERS: Record<string, string> = {
  'nested-chord-group-header': 'Celery 5.2 numbers a nested header group\'s members in reverse (deque.extendleft); celeriac keeps their order',
};

const fixtures: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as Fixture)
  .filter((f) => f.python_apply !== undefined && f.messages !== undefined);

/** Tokens for the capture's queue names. */
function named(names: Names): Record<string, string> {
  return { [names.q]: '<Q>', [names.q2]: '<Q2>' };
}

function ids(names: Names): string[] {
  return names.fixedId ? [names.fixedId] : [];
}

function namesOf(f: Fixture): Names {
  const queue = f.messages![0]?.queue ?? '';
  const base = queue.replace(/-(q2|w)$/, '');
  return { q: base, q2: `${base}-q2`, fixedId: f.python_apply?.includes('FIXED_ID') ? f.result?.id : undefined };
}

describe('canvas messages match Celery 5.2 (captured fixtures)', () => {
  it('has fixtures, and a builder for every captured case', () => {
    assert.ok(fixtures.length >= 40, `found ${fixtures.length} fixtures`);
    const missing = fixtures.map((f) => f.case).filter((c) => !CASES[c]);
    assert.deepEqual(missing, []);
  });

  for (const fixture of fixtures) {
    const build = CASES[fixture.case];
    if (!build) continue;
    it(`${fixture.case}: ${fixture.python_build} .${fixture.python_apply}`, async () => {
      const names = namesOf(fixture);
      const { sig, apply } = build(names);
      if (fixture.python_build && !SIGNATURE_DIFFERS[fixture.case]) {
        assert.deepEqual(canonical(JSON.parse(JSON.stringify(sig)), named(names), ids(names)), canonical(fixture.signature, named(names), ids(names)), 'signature');
      }
      const broker = new RecordingBroker();
      const app = new App({ broker, backend: new MemoryBackend(), logger: silentLogger, defaultQueue: names.q });
      try {
        await app.apply(sig, apply);
        const ours = broker.published.map((p) => {
          const m = decodeTaskMessage(p.message);
          return comparable({ queue: p.options.queue, headers: m.headers, properties: m.properties, body: [m.args, m.kwargs, m.embed] });
        });
        const theirs = fixture.messages!.map(comparable);
        if (ORDER_DIFFERS[fixture.case]) {
          const loose = (list: typeof ours) =>
            list
              .map((m) => canonical({ ...m, headers: { ...m.headers, group_index: '<index>' } }, named(names), ids(names)))
              .map((m) => JSON.stringify(m))
              .sort();
          assert.deepEqual(loose(ours), loose(theirs), ORDER_DIFFERS[fixture.case]);
          return;
        }
        assert.deepEqual(canonical(ours, named(names), ids(names)), canonical(theirs, named(names), ids(names)));
      } finally {
        await app.close();
      }
    });
  }
});
