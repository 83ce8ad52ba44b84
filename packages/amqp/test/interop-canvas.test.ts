/**
 * Workflows across languages on RabbitMQ: a real Python Celery 5.2 worker
 * (fixtures/py_amqp_interop_worker.py) consumes the queue `<q>.py`, a celeriac worker (a child
 * process, interop-fixture.ts) consumes `<q>.ts`, each registering only its own tasks
 * (redis/test/interop-canvas-checks.ts, where the checks are described), in two setups:
 *
 * - results over `rpc://` (every result goes to the reply queue of the client that applied the
 *   workflow, whichever worker ran the step): a Python client's `chain(py.add, ts.mul, py.add)` and
 *   a celeriac client's `chain(ts.add, py.mul, ts.add)` are 17; a step failing on the other side
 *   fails the rest of the chain there too. Chords are left out here: the rpc
 *   backend cannot count them (Celery refuses them, and so does celeriac).
 * - results in Redis (Celery's plain keys; chords counted in `celery-taskset-meta-<gid>.j/.s`):
 *   the same chains, both clients' chords (30), a group of Python tasks joined in order, a
 *   failing header task on the other side failing the chord with ChordError, read by both clients,
 *   a chain holding a chord whose body is a chain, and chords whose header members are chains.
 *
 * Each setup has a vhost of its own (deleted afterwards) and remembers the Redis keys of its ids.
 * Skipped, with the reason, when RabbitMQ, Redis (second setup) or python3-celery is missing and
 * CI is unset.
 */
import { after, before, describe } from 'node:test';
import type { App } from '@celeriac/core';
import { AmqpInteropScope, interopSkipReason, REDIS_URL } from './interop-fixture.js';
import { itChecksWorkflows, type CanvasRun, type PyCanvasLine } from '../../redis/test/interop-canvas-checks.js';

const RPC = 'rpc://';

/** Starts both workers (results in `backend`) and a celeriac client; what the checks need. */
async function startRun(scope: AmqpInteropScope, backend: string): Promise<CanvasRun> {
  await scope.create();
  const queues = { py: scope.sideQueue('py'), ts: scope.sideQueue('ts') };
  const workers = await Promise.all([scope.startPythonWorker(backend, { queue: queues.py }), scope.startCeleriacWorker(backend, { queue: queues.ts })]);
  const app = scope.app(backend);
  await app.connect();
  return {
    app,
    queues,
    python: async (command, ids) => {
      const [line] = await scope.pythonClient<PyCanvasLine>(backend, command, JSON.stringify({ ...queues, ids }));
      return line!;
    },
    taskId: (id) => scope.taskId(id),
    groupId: (id) => scope.groupId(id),
    logs: () => workers.map((w) => `--- ${w.name}\n${w.log()}`).join('\n'),
  };
}

describe('interop over AMQP: chains across Python Celery 5.2 and celeriac workers, results over rpc://', { skip: await interopSkipReason(), timeout: 170_000 }, () => {
  const scope = new AmqpInteropScope('canvas-rpc');
  let app: App | undefined;
  let run: CanvasRun;
  before(async () => {
    run = await startRun(scope, RPC);
    app = run.app;
  });
  after(async () => {
    await app?.close();
    await scope.cleanup();
  });

  itChecksWorkflows(() => run, { chords: false });
});

describe('interop over AMQP: workflows across Python Celery 5.2 and celeriac workers, results in Redis', { skip: await interopSkipReason({ redis: true }), timeout: 240_000 }, () => {
  const scope = new AmqpInteropScope('canvas-redis', { redis: true });
  let app: App | undefined;
  let run: CanvasRun;
  before(async () => {
    run = await startRun(scope, REDIS_URL);
    app = run.app;
  });
  after(async () => {
    await app?.close();
    await scope.cleanup();
  });

  itChecksWorkflows(() => run, { chords: true });
});
