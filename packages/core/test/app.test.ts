/** The app and calls: option validation, the message a call sends, inferred types. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, ConfigError, decodeTaskMessage, NotImplementedYetError, parseIso, type AsyncResult } from '../src/index.js';
import { memoryApp, RecordingBroker } from './helpers.js';

test('applyAsync puts every option on the wire as Celery does', async () => {
  const broker = new RecordingBroker();
  const app = memoryApp(broker);
  const add = app.task({ name: 'proj.add', params: ['x', 'y'] }, (_ctx, x: number, y: number) => x + y);
  const before = Date.now();
  const r = await add.applyAsync({
    args: [2],
    kwargs: { y: 3 },
    countdown: 2,
    expires: 60,
    priority: 7,
    queue: 'q1',
    taskId: 'dddddddd-0000-0000-0000-000000000004',
    headers: { trace: 'abc' },
    ignoreResult: true,
    shadow: 'my-shadow-name',
    timeLimit: 30,
    softTimeLimit: 20,
  });
  assert.equal(r.id, 'dddddddd-0000-0000-0000-000000000004');
  const [{ message, options }] = broker.published as [(typeof broker.published)[0]];
  const m = decodeTaskMessage(message);
  assert.equal(options.queue, 'q1');
  assert.equal(options.priority, 7);
  assert.equal(m.headers.task, 'proj.add');
  assert.equal(m.headers.shadow, 'my-shadow-name');
  assert.deepEqual(m.headers.timelimit, [30, 20]);
  assert.equal(m.headers.ignore_result, true);
  assert.equal(m.headers['trace'], 'abc');
  assert.equal(m.headers.argsrepr, '(2,)');
  assert.equal(m.headers.kwargsrepr, "{'y': 3}");
  assert.equal(m.headers.root_id, r.id);
  assert.equal(m.properties.priority, 7);
  assert.equal(m.properties.correlation_id, r.id);
  assert.equal(m.properties.reply_to, app.oid);
  const eta = parseIso(m.headers.eta!)!.getTime();
  const expires = parseIso(m.headers.expires!)!.getTime();
  assert.ok(eta >= before + 2000 && eta <= Date.now() + 2000);
  assert.ok(expires >= before + 60_000 && expires <= Date.now() + 60_000);
  assert.ok(Number(m.properties.expiration) > 59_000 && Number(m.properties.expiration) <= 60_000);
  assert.equal(options.notBefore?.getTime(), eta);
  await app.close();
});

test('invalid options fail at once with a message naming the option and the value', async () => {
  const app = memoryApp();
  const t = app.task('t', () => 1);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ countdown: -1 }, /"countdown" must be a non-negative number of seconds, got -1/],
    [{ priority: 10 }, /"priority" must be an integer from 0 to 9, got 10/],
    [{ eta: 'tomorrow' }, /"eta" must be a valid Date/],
    [{ queue: '' }, /"queue" must be a non-empty string/],
    [{ retries: 2 }, /"retries" is not a call option/],
    [{ countdown: 1, eta: new Date() }, /cannot both be given/],
  ];
  for (const [opts, re] of cases) await assert.rejects(t.applyAsync(opts as never), (err: Error) => err instanceof ConfigError && re.test(err.message));
  assert.throws(() => app.task({ name: 'x', maxRetries: -1 }, () => 1), /"maxRetries" must be a non-negative integer or null, got -1/);
  assert.throws(() => app.task({ name: 'x', softTimeLimit: 0 }, () => 1), /"softTimeLimit" must be a positive number/);
  assert.throws(() => app.task({ name: 'x', bogus: 1 } as never, () => 1), /"bogus" is not a task option/);
  assert.throws(() => app.task({ name: 'x', rateLimit: '10/s' }, () => 1), NotImplementedYetError);
  assert.throws(() => app.task('t', () => 1), /already registered/);
  assert.throws(() => new App({ broker: 'nonsense' }), /expected a URL/);
  assert.throws(() => new App({ broker: 'memory://', resultExpires: -5 }), /"resultExpires"/);
  await app.close();
});

test('arguments that are not JSON fail the call with a clear error', async () => {
  const app = memoryApp();
  const t = app.task('t', (_ctx, _v: unknown) => 1);
  await assert.rejects(t.delay(10n), { code: 'CELERIAC_E_NOT_SERIALIZABLE', message: /arguments of t cannot be encoded as JSON/ });
  await app.close();
});

test('URLs resolve to adapters; a missing one names the package to install', async () => {
  const app = new App({ broker: 'memory://' });
  await app.connect();
  assert.equal(app.broker.capabilities.shared, false);
  assert.ok(app.backend, 'memory:// doubles as a result backend');
  await app.close();
  const noBackend = new App({ broker: 'memory://', backend: null });
  await noBackend.connect();
  await assert.rejects(noBackend.asyncResult('x').state(), { code: 'CELERIAC_E_NO_BACKEND' });
  await noBackend.close();
  // A scheme whose package is not written yet (postgres: a later issue).
  const postgres = new App({ broker: 'postgres://localhost/db', backend: null });
  await assert.rejects(postgres.connect(), (err: Error & { code?: string }) =>
    err.code === 'CELERIAC_E_ADAPTER_MISSING' && /npm install @celeriac\/postgres/.test(err.message));
  assert.throws(() => new App({ broker: 'kafka://x' }), /no adapter handles the scheme "kafka"/);
});

test('task types are inferred from the function (checked by tsc over the tests)', async () => {
  const app = memoryApp();
  const add = app.task({ name: 'add', params: ['x', 'y'] }, async (_ctx, x: number, y: number) => x + y);
  if (false as boolean) {
    // @ts-expect-error a string is not a number
    await add.delay('2', 3);
    // @ts-expect-error too many arguments
    await add.delay(1, 2, 3);
    // @ts-expect-error without kwargs, args must be complete
    await add.applyAsync({ args: [1] });
    await add.applyAsync({ args: [1], kwargs: { y: 2 } });
    const r: AsyncResult<number> = await add.delay(1, 2);
    const n: number = await r.get();
    // @ts-expect-error the result is a number
    const s: string = await r.get();
    void n;
    void s;
  }
  assert.equal(add.name, 'add');
  await app.close();
});
