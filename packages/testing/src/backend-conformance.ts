/**
 * The result backend conformance suite. An adapter's test file calls `backendConformance()` once;
 * it registers one `describe` block with a test per behaviour of the {@link ResultBackend} contract.
 *
 * Every test uses fresh task ids, so the suite can share a store with other tests. Watching a write
 * made by another instance is checked only when the backend declares `capabilities.shared`; the
 * chord and group cases (backend-cases-canvas.ts) only when it has `chords` / `groups`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError, type ResultBackend, type ResultMeta, type SetResultOptions } from '@celeriac/core';
import { eventually, sleep, within, type Waits } from './conformance-helpers.js';
import { validateWaits } from './broker-conformance.js';
import { canvasCases, CANVAS_CASE_NAMES, type CanvasCaseName } from './backend-cases-canvas.js';

const KV_TEST_NAMES = [
  'get returns null for an unknown task',
  'set and get round trip',
  'set replaces a state that is not SUCCESS',
  'SUCCESS is never overwritten',
  'a first write replaces a state and keeps a SUCCESS',
  'expiresIn is honoured',
  'delete',
  'getMany keeps the order of the ids',
  'watch wakes after a set on the same instance',
  'watch wakes after a set on another instance',
  'watch resolves when stopped',
] as const;
/** Every backend conformance test, by the name `skip` uses: the key-value contract, then chords and groups. */
export const BACKEND_TEST_NAMES: readonly BackendTestName[] = [...KV_TEST_NAMES, ...CANVAS_CASE_NAMES];
export type BackendTestName = (typeof KV_TEST_NAMES)[number] | CanvasCaseName;

export interface BackendConformanceOptions {
  /**
   * Makes a new backend instance. For a shared backend, instances from successive calls must see
   * the same store. The suite calls `connect()` and `close()` itself.
   */
  create: () => Promise<ResultBackend>;
  /** Tests this adapter cannot pass, each with the reason. */
  skip?: Partial<Record<BackendTestName, string>>;
  /**
   * Longest wait, in milliseconds, for something that must happen (a watch waking, an entry expiring).
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Options a worker would pass to every `set()` for this backend to deliver the result to the
   * suite (the rpc backend sends a result to the `replyTo` of its task's sender, and nothing
   * without one): merged under the options a case passes.
   */
  setOptions?: (backend: ResultBackend) => SetResultOptions;
  /**
   * The metadata fields the backend carries, when not all (the rpc backend carries Celery's five:
   * task_id, status, result, traceback, children); metadata is compared on these only.
   * @default every field
   */
  metaFields?: readonly string[];
}

/** A result as a worker stores it, with the extended fields and a nested, non-ASCII result. */
export function sampleMeta(taskId: string, status = 'SUCCESS', result: unknown = { answer: 42, list: [1, 'zwei', null], text: 'naïve ✓' }): ResultMeta {
  return {
    status,
    result,
    traceback: null,
    children: [],
    date_done: status === 'SUCCESS' || status === 'FAILURE' ? '2024-05-01T12:00:00.123456' : null,
    name: 'conformance.sample',
    args: [1, 2],
    kwargs: { k: 'v' },
    worker: 'conformance@localhost',
    retries: 0,
    queue: 'celery',
    task_id: taskId,
  };
}

type Open = () => Promise<ResultBackend>;
/** Asserts two metadata are the same, on the fields the backend carries. */
type Same = (actual: ResultMeta | null | undefined, expected: ResultMeta | null) => void;
type Case = (open: Open, waits: Waits, t: TestContext, same: Same) => Promise<void>;

/**
 * Waits for `taskId` as a caller waiting on a result does: arm watch(), (re)read, await the watch.
 * The first watch is armed before `write` starts, so the wake-up has to come from the write.
 */
async function waitForResult(watcher: ResultBackend, taskId: string, write: () => Promise<void>, waits: Waits): Promise<ResultMeta> {
  let stopped = false;
  let current = watcher.watch(taskId);
  try {
    const writing = write();
    const loop = (async () => {
      await current.woken;
      while (!stopped) {
        current = watcher.watch(taskId);
        const meta = await watcher.get(taskId);
        if (meta) return meta;
        await current.woken;
      }
      throw new Error('gave up waiting');
    })();
    const [meta] = await within(Promise.all([loop, writing]), waits.timeoutMs, `watch() to report the result of ${taskId}`);
    return meta;
  } finally {
    stopped = true;
    current.stop();
  }
}

const kvCases: Record<(typeof KV_TEST_NAMES)[number], Case> = {
  async 'get returns null for an unknown task'(open) {
    const backend = await open();
    assert.equal(await backend.get(randomUUID()), null);
  },
  async 'set and get round trip'(open, _waits, _t, same) {
    const backend = await open();
    const id = randomUUID();
    const meta = sampleMeta(id);
    await backend.set(id, meta);
    same(await backend.get(id), meta);
    const failure = sampleMeta(randomUUID(), 'FAILURE', { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' });
    await backend.set(failure.task_id, { ...failure, traceback: 'Traceback (most recent call last):\n  ...' });
    assert.equal((await backend.get(failure.task_id))?.traceback, 'Traceback (most recent call last):\n  ...');
  },
  async 'set replaces a state that is not SUCCESS'(open, _waits, _t, same) {
    const backend = await open();
    const id = randomUUID();
    await backend.set(id, sampleMeta(id, 'STARTED', null));
    await backend.set(id, sampleMeta(id, 'PROGRESS', { done: 1 }));
    same(await backend.get(id), sampleMeta(id, 'PROGRESS', { done: 1 }));
    await backend.set(id, sampleMeta(id, 'FAILURE', { exc_type: 'Error' }));
    assert.equal((await backend.get(id))?.status, 'FAILURE');
  },
  async 'SUCCESS is never overwritten'(open, _waits, _t, same) {
    const backend = await open();
    const id = randomUUID();
    await backend.set(id, sampleMeta(id, 'SUCCESS', 'first'));
    await backend.set(id, sampleMeta(id, 'FAILURE', { exc_type: 'Error' }));
    await backend.set(id, sampleMeta(id, 'SUCCESS', 'second'));
    await backend.set(id, sampleMeta(id, 'STARTED', null));
    same(await backend.get(id), sampleMeta(id, 'SUCCESS', 'first'));
  },
  async 'a first write replaces a state and keeps a SUCCESS'(open, _waits, _t, same) {
    // firstWrite is a hint (SetResultOptions): wrong, it must not change what is stored.
    const backend = await open();
    const [started, succeeded, fresh] = [randomUUID(), randomUUID(), randomUUID()];
    await backend.set(started, sampleMeta(started, 'STARTED', null));
    await backend.set(started, sampleMeta(started, 'SUCCESS', 'done'), { firstWrite: true });
    same(await backend.get(started), sampleMeta(started, 'SUCCESS', 'done'));
    await backend.set(succeeded, sampleMeta(succeeded, 'SUCCESS', 'first'));
    await backend.set(succeeded, sampleMeta(succeeded, 'SUCCESS', 'second'), { firstWrite: true });
    same(await backend.get(succeeded), sampleMeta(succeeded, 'SUCCESS', 'first'));
    await backend.set(fresh, sampleMeta(fresh, 'SUCCESS', 'only'), { firstWrite: true, expiresIn: 3600 });
    same(await backend.get(fresh), sampleMeta(fresh, 'SUCCESS', 'only'));
  },
  async 'expiresIn is honoured'(open, waits, _t, same) {
    const backend = await open();
    const short = randomUUID();
    const forever = randomUUID();
    await backend.set(short, sampleMeta(short), { expiresIn: 1 });
    await backend.set(forever, sampleMeta(forever), { expiresIn: null });
    assert.notEqual(await backend.get(short), null, 'an entry expired at once');
    await eventually(async () => (await backend.get(short)) === null, waits.timeoutMs + 1000, 'the entry to expire');
    const [gone, kept] = await backend.getMany([short, forever]);
    assert.equal(gone, null);
    same(kept, sampleMeta(forever));
    // An expired SUCCESS is gone, so a new result for the same id is stored.
    await backend.set(short, sampleMeta(short, 'FAILURE', { exc_type: 'Error' }));
    assert.equal((await backend.get(short))?.status, 'FAILURE');
  },
  async delete(open) {
    const backend = await open();
    const id = randomUUID();
    await backend.set(id, sampleMeta(id));
    await backend.delete(id);
    assert.equal(await backend.get(id), null);
    await backend.delete(randomUUID());
    // A deleted SUCCESS no longer blocks a new write.
    await backend.set(id, sampleMeta(id, 'STARTED', null));
    assert.equal((await backend.get(id))?.status, 'STARTED');
  },
  async 'getMany keeps the order of the ids'(open, _waits, _t, same) {
    const backend = await open();
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await backend.set(a, sampleMeta(a, 'SUCCESS', 'a'));
    await backend.set(b, sampleMeta(b, 'FAILURE', 'b'));
    const got = await backend.getMany([b, c, a, b]);
    assert.equal(got.length, 4);
    [sampleMeta(b, 'FAILURE', 'b'), null, sampleMeta(a, 'SUCCESS', 'a'), sampleMeta(b, 'FAILURE', 'b')].forEach((expected, i) => same(got[i], expected));
    assert.deepEqual(await backend.getMany([]), []);
  },
  async 'watch wakes after a set on the same instance'(open, waits, _t, same) {
    const backend = await open();
    const id = randomUUID();
    const meta = await waitForResult(backend, id, () => backend.set(id, sampleMeta(id)), waits);
    same(meta, sampleMeta(id));
  },
  async 'watch wakes after a set on another instance'(open, waits, t, same) {
    const watcher = await open();
    if (!watcher.capabilities.shared) return t.skip('needs capabilities.shared');
    const writer = await open();
    const id = randomUUID();
    // Let the writer's set land a little after the watch started, from a separate timer.
    const meta = await waitForResult(watcher, id, () => sleep(50).then(() => writer.set(id, sampleMeta(id))), waits);
    same(meta, sampleMeta(id));
  },
  async 'watch resolves when stopped'(open, waits) {
    const backend = await open();
    const id = randomUUID();
    const once = backend.watch(id);
    once.stop();
    once.stop(); // idempotent
    await within(once.woken, waits.timeoutMs, 'watch() stopped at once to resolve');
    // Nothing is ever written for this id: only stop() can end the wait for good.
    let stopped = false;
    let current = backend.watch(id);
    const watching = (async () => {
      for (;;) {
        await current.woken;
        if (stopped) return;
        current = backend.watch(id);
      }
    })();
    setTimeout(() => {
      stopped = true;
      current.stop();
    }, 100);
    await within(watching, waits.timeoutMs, 'watch() to resolve after stop()');
  },
};

const cases: Record<BackendTestName, Case> = { ...kvCases, ...canvasCases };

/** Registers the backend conformance tests under `describe(\`result backend conformance: ${name}\`)`. */
export function backendConformance(name: string, options: BackendConformanceOptions): void {
  const waits = validateWaits(options.timeoutMs, 0);
  for (const key of Object.keys(options.skip ?? {})) {
    if (!(BACKEND_TEST_NAMES as readonly string[]).includes(key)) {
      throw new ConfigError(`backendConformance: skip names an unknown test ${JSON.stringify(key)}; known: ${BACKEND_TEST_NAMES.join(', ')}`);
    }
  }
  describe(`result backend conformance: ${name}`, () => {
    for (const testName of BACKEND_TEST_NAMES) {
      it(testName, { skip: options.skip?.[testName] ?? false }, async (t) => {
        const opened: ResultBackend[] = [];
        const open = async () => {
          const backend = await options.create();
          opened.push(backend);
          await backend.connect();
          return withSetOptions(backend, options.setOptions);
        };
        const fields = options.metaFields;
        const project = (meta: ResultMeta | null | undefined) =>
          meta && fields ? Object.fromEntries(fields.filter((f) => f in meta).map((f) => [f, meta[f]])) : meta;
        const same: Same = (actual, expected) => assert.deepEqual(project(actual), project(expected));
        try {
          await cases[testName](open, waits, t, same);
        } finally {
          for (const backend of opened) await backend.close();
        }
      });
    }
  });
}

/** The backend, with `extra(backend)` merged under the options of every `set()` call. */
function withSetOptions(backend: ResultBackend, extra: BackendConformanceOptions['setOptions']): ResultBackend {
  if (!extra) return backend;
  return new Proxy(backend, {
    get(target, prop, receiver) {
      if (prop === 'set') return (taskId: string, meta: ResultMeta, options?: SetResultOptions) => target.set(taskId, meta, { ...extra(target), ...options });
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
