/**
 * The Redis result backend against real Python Celery 5.2 (`/usr/bin/python3`, Debian's
 * python3-celery): each side reads what the other writes — task metas, group results and chord
 * parts. Celery 5.2's backend knows no key prefix, so these tests use Celery's plain key names
 * with fresh ids, and delete exactly the keys they made.
 *
 * Skipped (with the reason) when Redis or python3-celery is missing and CI is unset.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildResultMeta, errorFromMeta, silentLogger, waitForReady, type ResultMeta, type ResultTuple } from '@celeriac/core';
import { within } from '@celeriac/testing';
import { RedisBackend } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import { rawClient, REDIS_URL, redisSkipReason } from './backend-fixture.js';

const PYTHON = process.env['CELERIAC_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/backend_interop.py', import.meta.url));
const WAIT = 20_000;

function pythonSkipReason(): string | false {
  const probe = spawnSync(PYTHON, ['-c', 'import celery, redis; assert celery.VERSION[:2] == (5, 2), celery.__version__']);
  if (probe.status === 0) return false;
  const reason = `Python Celery 5.2 with redis-py is not available at ${PYTHON} (apt-get install -y python3-celery python3-redis)`;
  if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
  return reason;
}

const skip = (await redisSkipReason()) || pythonSkipReason();

/** Runs a command of fixtures/backend_interop.py and returns its JSON output. */
function python<T>(...args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, REDIS_URL, ...args], { timeout: WAIT }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`python ${args[0]} failed: ${stderr || error.message}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch (cause) {
        reject(new Error(`python ${args[0]} printed no JSON: ${stdout}\n${stderr}`, { cause }));
      }
    });
  });
}

interface PyRead {
  state: string;
  result: unknown;
  ready: boolean;
  date_done: string | null;
  traceback: string | null;
  name: string | null;
  args: unknown[] | null;
  kwargs: Record<string, unknown> | null;
  worker: string | null;
  retries: number | null;
  queue: string | null;
  get?: { value: unknown } | { raised: { type: string; module: string; args: unknown[] } };
}

describe('redis result backend: interop with Python Celery 5.2', { skip }, () => {
  let raw: Redis;
  let backend: RedisBackend;
  const keys = new Set<string>();
  const taskId = () => {
    const id = `celeriac-interop-${randomUUID()}`;
    keys.add(`celery-task-meta-${id}`);
    return id;
  };
  const groupId = () => {
    const id = `celeriac-interop-${randomUUID()}`;
    for (const suffix of ['', '.j', '.t', '.s']) keys.add(`celery-taskset-meta-${id}${suffix}`);
    return id;
  };

  before(() => {
    raw = rawClient();
    backend = new RedisBackend({ url: REDIS_URL, keyPrefix: '', logger: silentLogger });
  });
  after(async () => {
    await backend?.close();
    if (keys.size) await raw.del(...keys);
    raw.disconnect();
  });

  it('Python reads SUCCESS (extended), FAILURE and a custom state written by celeriac', async () => {
    const now = new Date('2026-11-21T13:27:02.355Z');
    const extended = { name: 'proj.add', args: [2, 3], kwargs: { k: 'v' }, worker: 'w1@node', retries: 1, queue: 'celery' };
    const [ok, aware, failed, progress] = [taskId(), taskId(), taskId(), taskId()];
    const result = { answer: 42, list: [1, 'zwei', null], text: 'naïve ✓' };
    await backend.set(ok, buildResultMeta({ taskId: ok, status: 'SUCCESS', result, extended, now }), { expiresIn: 600 });
    const awareMeta: ResultMeta = { ...buildResultMeta({ taskId: aware, status: 'SUCCESS', result: 5, now }), date_done: '2026-11-21T13:27:02.355000+00:00' };
    await backend.set(aware, awareMeta, { expiresIn: 600 });
    const traceback = 'Traceback (most recent call last):\n  File "x.js", line 1\nValueError: boom\n';
    await backend.set(
      failed,
      buildResultMeta({ taskId: failed, status: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' }, traceback, extended, now }),
      { expiresIn: 600 },
    );
    await backend.set(progress, buildResultMeta({ taskId: progress, status: 'PROGRESS', result: { done: 3, total: 10 }, now }), { expiresIn: 600 });

    const read = await python<Record<string, PyRead>>('read', ok, aware, failed, progress);
    const s = read[ok]!;
    assert.equal(s.state, 'SUCCESS');
    assert.deepEqual(s.result, result);
    assert.deepEqual(s.get, { value: result });
    assert.equal(s.date_done, '2026-11-21T13:27:02.355000');
    assert.deepEqual([s.name, s.args, s.kwargs, s.worker, s.retries, s.queue], ['proj.add', [2, 3], { k: 'v' }, 'w1@node', 1, 'celery']);

    assert.equal(read[aware]!.state, 'SUCCESS');
    assert.equal(read[aware]!.date_done, '2026-11-21T13:27:02.355000+00:00');
    assert.deepEqual(read[aware]!.get, { value: 5 });

    const f = read[failed]!;
    assert.equal(f.state, 'FAILURE');
    assert.deepEqual(f.result, { exception: { type: 'ValueError', module: 'builtins', args: ['boom'] } });
    assert.deepEqual(f.get, { raised: { type: 'ValueError', module: 'builtins', args: ['boom'] } });
    assert.equal(f.traceback, traceback);
    assert.equal(f.name, 'proj.add');

    const p = read[progress]!;
    assert.equal(p.state, 'PROGRESS');
    assert.equal(p.ready, false);
    assert.deepEqual(p.result, { done: 3, total: 10 });
    assert.equal(p.date_done, null);
  });

  it('celeriac reads, and is woken by, what Python stores', async () => {
    const [ok, failed] = [taskId(), taskId()];
    // The first watch resolves once the subscription is live; the second only on a message,
    // which here can only be Celery's PUBLISH.
    await backend.watch(ok).woken;
    const woken = backend.watch(ok);
    try {
      await python('store-success', ok, JSON.stringify({ value: 5, list: [1, 2] }));
      await within(woken.woken, WAIT, "the watch to wake on Celery's PUBLISH");
    } finally {
      woken.stop();
    }
    const meta = await waitForReady(backend, ok, WAIT);
    assert.ok(meta);
    assert.equal(meta.status, 'SUCCESS');
    assert.deepEqual(meta.result, { value: 5, list: [1, 2] });
    assert.equal(meta.task_id, ok);
    assert.equal(meta.traceback, null);
    assert.deepEqual(meta.children, []);
    assert.match(meta.date_done ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);

    await python('mark-failure', failed, 'boom from python');
    const failure = await backend.get(failed);
    assert.ok(failure);
    assert.equal(failure.status, 'FAILURE');
    const error = errorFromMeta(failure);
    assert.equal(error.name, 'ValueError');
    assert.equal(error.excModule, 'builtins');
    assert.deepEqual(error.excArgs, ['boom from python']);
    assert.equal(error.message, 'boom from python');
    assert.match(error.remoteTraceback ?? '', /ValueError: boom from python/);

    // Python's SUCCESS is guarded against celeriac's late writes too.
    await backend.set(ok, { ...meta, status: 'FAILURE', result: null });
    assert.equal((await backend.get(ok))?.status, 'SUCCESS');
  });

  it('group results round-trip in both directions', async () => {
    const fromPython = groupId();
    const [a, b] = [taskId(), taskId()];
    await python('save-group', fromPython, a, b);
    assert.deepEqual(await backend.restoreGroup(fromPython), [[fromPython, null], [[[a, null], null], [[b, null], null]]]);

    const fromTs = groupId();
    const [c, d] = [taskId(), taskId()];
    const tuple: ResultTuple = [[fromTs, null], [[[c, null], null], [[d, null], null]]];
    await backend.saveGroup(fromTs, tuple, { expiresIn: 600 });
    assert.deepEqual(await python('restore-group', fromTs), { id: fromTs, children: [c, d] });
  });

  it('chord parts: celeriac completes a chord Python counted into, and Celery decodes celeriac parts', async () => {
    const gid = groupId();
    await backend.chords.setSize(gid, 2, { expiresIn: 600 });
    await python('chord-part', gid, 'py-part', '0', JSON.stringify({ from: 'python' }));
    const outcome = await backend.chords.addPart({ groupId: gid, taskId: 'ts-part', groupIndex: 1, state: 'SUCCESS', result: { from: 'ts' } }, { expiresIn: 600 });
    assert.equal(outcome.complete, true);
    assert.deepEqual(outcome.results, [{ from: 'python' }, { from: 'ts' }]);
    assert.deepEqual(outcome.parts.map((p) => p.taskId), ['py-part', 'ts-part']);

    const other = groupId();
    await backend.chords.setSize(other, 5, { expiresIn: 600 });
    const failure = { exc_type: 'ValueError', exc_message: ['bad part'], exc_module: 'builtins' };
    await backend.chords.addPart({ groupId: other, taskId: 't2', groupIndex: 2, state: 'FAILURE', result: failure }, { expiresIn: 600 });
    await backend.chords.addPart({ groupId: other, taskId: 't1', groupIndex: 1, state: 'SUCCESS', result: [1, 'two'] }, { expiresIn: 600 });
    await backend.chords.addPart({ groupId: other, taskId: 't0', groupIndex: 0, state: 'SUCCESS', result: 'zero' }, { expiresIn: 600 });
    const parts = await python<unknown[]>('chord-read', other);
    assert.equal(parts.length, 3);
    assert.deepEqual(parts.slice(0, 2), [{ value: 'zero' }, { value: [1, 'two'] }]);
    const raised = (parts[2] as { raised?: { type: string; args: string[] } }).raised;
    assert.equal(raised?.type, 'ChordError');
    assert.match(raised?.args[0] ?? '', /Dependency t2 raised ValueError\('bad part'\)/);
  });
});
