/**
 * Workflows across languages on Redis (broker and result backend): a real Python Celery 5.2
 * worker (fixtures/py_interop_worker.py) consumes the queue `<q>.py`, a celeriac worker (a child
 * process, interop-fixture.ts) consumes `<q>.ts`, and each registers only its own tasks
 * (interop-canvas-checks.ts):
 * - a Python client's `chain(py.add, ts.mul, py.add)` is 17 and `chord([ts.mul...], py.xsum)` 30;
 * - a celeriac client's `chain(ts.add, py.mul, ts.add)` is 17, `chord([py.mul...], ts.xsum)` 30
 *   (and with a header of both sides' tasks), a group of Python tasks joins in order;
 * - a failing header task on the other side fails the chord: the body is never run and its
 *   ChordError ("Dependency <id> raised ValueError(...)") is read by both clients.
 * - a step failing on the other side fails the rest of a chain; a chain holding a chord whose body
 *   is a chain (`chain(a, group(b, c), d, e)`); chords whose header members are chains ending on
 *   the other side.
 *
 * Broker keys live under the test's prefix (kombu's `global_keyprefix` on the Python side);
 * results and chord counters use Celery's plain `celery-task-meta-<id>` and
 * `celery-taskset-meta-<gid>*` keys, for ids the scope remembers and deletes. Skipped, with the
 * reason, when Redis or python3-celery is missing and CI is unset.
 */
import { after, before, describe } from 'node:test';
import type { App } from '@celeriac/core';
import { InteropScope, interopSkipReason, type Started } from './interop-fixture.js';
import { itChecksWorkflows, type CanvasRun, type PyCanvasLine } from './interop-canvas-checks.js';

const skip = await interopSkipReason();

describe('interop on Redis: workflows across Python Celery 5.2 and celeriac workers', { skip, timeout: 240_000 }, () => {
  let scope: InteropScope;
  let app: App;
  let run: CanvasRun;
  before(async () => {
    scope = new InteropScope('canvas');
    const queues = { py: scope.sideQueue('py'), ts: scope.sideQueue('ts') };
    const workers: Started[] = await Promise.all([scope.startPythonWorker({ queue: queues.py }), scope.startCeleriacWorker({ queue: queues.ts })]);
    app = scope.app();
    await app.connect();
    run = {
      app,
      queues,
      python: async (command, ids) => {
        const [line] = await scope.pythonClient<PyCanvasLine>(command, JSON.stringify({ ...queues, ids }));
        return line!;
      },
      taskId: (id) => scope.taskId(id),
      groupId: (id) => scope.groupId(id),
      logs: () => workers.map((w) => `--- ${w.name}\n${w.log()}`).join('\n'),
    };
  });
  after(async () => {
    await app?.close();
    await scope?.cleanup();
  });

  itChecksWorkflows(() => run, { chords: true });
});
