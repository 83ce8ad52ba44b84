/**
 * The connection parts of a Redis URL against real servers of our own, started on spare ports
 * (never the shared 6379) and stopped by PID:
 *
 * - a password-protected redis-server (`--requirepass`, plus ACL users): an App on
 *   `redis://:secret@host:port/3` runs a task end to end through an in-process Worker and its keys
 *   land in db 3; ACL users work the same, with a percent-encoded password and with an unencoded
 *   `%` and `@` in it (taken literally, as Celery does); a wrong or missing password makes
 *   `app.connect()` fail with an error that says authentication failed (no hang, no password in
 *   the message or the log). A wrong password for the result backend alone is marked `todo`: its
 *   error is ioredis's bare "Connection is closed." (the log line does name the cause).
 * - a TLS redis-server with a throwaway CA made by `openssl`: an App on
 *   `rediss://host:port/0?ssl_ca_certs=<ca>` runs a task end to end; without the CA and with
 *   `ssl_cert_reqs=required` the connection is refused with a certificate error.
 *
 * Skipped with a message when redis-server or openssl is not installed, unless CI is set: then
 * that is a failure.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { App, silentLogger, Worker } from '@celeriac/core';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './free-port.js';
import { makeTestCertificates } from './test-certs.js';

/** Generous: only there so that a broken connection fails the test instead of hanging it. */
const RESULT_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT = { timeout: 60_000 };

// ---------------------------------------------------------------------------------------------
// Tools and throwaway servers

/** A skip reason when `command` is missing (CI unset); throws under CI; false when it is there. */
function missing(command: string, versionArgs: readonly string[], purpose: string): string | false {
  if (!spawnSync(command, versionArgs).error) return false;
  const reason = `${command} is not installed (needed ${purpose})`;
  if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
  return reason;
}

const noRedis = missing('redis-server', ['--version'], 'for throwaway Redis servers');
const noTls = noRedis || missing('openssl', ['version'], 'to make a throwaway CA and server certificate');

interface Server {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
after(async () => {
  // Whatever a failed test left running, by its own PID.
  for (const child of running) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
});

/** Starts `redis-server` in the foreground with `args`; resolves once it accepts connections. */
async function startRedis(args: readonly string[]): Promise<Server> {
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('redis-server did not start');
  const pid = child.pid;
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail('it did not report "Ready to accept connections" within 15 s'), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) done();
    };
    const onExit = () => fail('it exited');
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const fail = (why: string) => done(new Error(`redis-server ${args.join(' ')}: ${why}; its output:\n${output}`));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const port = Number(args[args.indexOf(args.includes('--tls-port') ? '--tls-port' : '--port') + 1]);
  return {
    port,
    pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
}


/** A plain client for looking at what celeriac wrote. */
async function rawClient(options: RedisOptions): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
  client.on('error', () => {});
  await client.connect();
  return client;
}

// ---------------------------------------------------------------------------------------------
// The task run end to end

/** An app on `url` (broker and backend) with an `add` task. */
function newApp(url: string): App {
  const app = new App({ broker: url, backend: url, logger: silentLogger });
  app.task('url.add', (_ctx, a: number, b: number) => a + b);
  return app;
}

/** Sends `url.add(2, 3)` to a Worker of the same app, in this process; returns the task id. */
async function runTaskEndToEnd(app: App): Promise<string> {
  const worker = Worker.create(app, { concurrency: 1 });
  const runningWorker = worker.run();
  try {
    const result = await app.sendTask<number>('url.add', { args: [2, 3] });
    assert.equal(await result.get({ timeout: RESULT_TIMEOUT_MS }), 5);
    return result.id;
  } finally {
    await worker.shutdown();
    await runningWorker;
  }
}

/** Asserts what a finished run left in `db`: its result and the queue's binding, nothing queued. */
async function assertKeysIn(client: Redis, taskId: string): Promise<void> {
  assert.equal(await client.exists(`celery-task-meta-${taskId}`), 1, 'the result is in the URL\'s db');
  assert.equal(JSON.parse((await client.get(`celery-task-meta-${taskId}`))!).result, 5);
  assert.equal(await client.exists('_kombu.binding.celery'), 1, 'the queue binding is in the URL\'s db');
  assert.equal(await client.llen('celery'), 0, 'the queue was consumed');
  assert.equal(await client.hlen('unacked'), 0, 'nothing left unacknowledged');
}

/** `app.connect()`'s rejection (closing the app either way). */
async function connectError(app: App): Promise<Error> {
  try {
    await app.connect();
  } catch (err) {
    return err as Error;
  } finally {
    await app.close();
  }
  assert.fail('app.connect() succeeded');
}

/** The message of `err` and of its causes, for matching. */
function fullMessage(err: Error): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) parts.push(e.message);
  return parts.join(' <- ');
}

// ---------------------------------------------------------------------------------------------
// Password and ACL user

describe('redis:// with a password against a redis-server with requirepass and ACL users', { skip: noRedis }, () => {
  const PASSWORD = 'secret';
  // Characters a URL must percent-encode, so the URL parser's decoding is exercised.
  const ALICE_PASSWORD = 'p@ss:w/rd%?#';
  // Written into the URL as it is, unencoded: Celery (kombu's unquote) takes `%` not followed by
  // two hex digits literally, and the last `@` of the authority ends the password.
  const BOB_PASSWORD = '50%off@home';
  let server: Server;

  before(async () => {
    const port = await freePort();
    server = await startRedis([
      '--port', String(port), '--requirepass', PASSWORD,
      '--user', 'alice', 'on', `>${ALICE_PASSWORD}`, '~*', '&*', '+@all',
      '--user', 'bob', 'on', `>${BOB_PASSWORD}`, '~*', '&*', '+@all',
    ]);
  });
  after(async () => {
    await server?.stop();
  });

  test('redis://:secret@host:port/3 runs a task end to end, and its keys land in db 3', TEST_TIMEOUT, async () => {
    const app = newApp(`redis://:${PASSWORD}@127.0.0.1:${server.port}/3`);
    const raw = await rawClient({ port: server.port, password: PASSWORD, db: 3 });
    try {
      const taskId = await runTaskEndToEnd(app);
      await assertKeysIn(raw, taskId);
      await raw.select(0);
      assert.equal(await raw.dbsize(), 0, 'nothing in db 0');
    } finally {
      await app.close();
      raw.disconnect();
    }
  });

  test('an ACL user with a percent-encoded password runs a task end to end as that user', TEST_TIMEOUT, async () => {
    const app = newApp(`redis://alice:${encodeURIComponent(ALICE_PASSWORD)}@127.0.0.1:${server.port}/5`);
    const raw = await rawClient({ port: server.port, password: PASSWORD, db: 5 });
    try {
      await app.connect();
      // The broker's connection is logged in as alice, on db 5.
      const clients = (await raw.client('LIST')) as string;
      const broker = clients.split('\n').filter((line) => / name=celeriac-broker-commands /.test(line));
      assert.equal(broker.length, 1, `the broker's connection is in CLIENT LIST:\n${clients}`);
      assert.match(broker[0]!, / user=alice /);
      assert.match(broker[0]!, / db=5 /);
      const taskId = await runTaskEndToEnd(app);
      await assertKeysIn(raw, taskId);
    } finally {
      await app.close();
      raw.disconnect();
    }
  });

  test('a password with an unencoded % and @ is taken literally, as Celery does', TEST_TIMEOUT, async () => {
    const app = newApp(`redis://bob:${BOB_PASSWORD}@127.0.0.1:${server.port}/4`);
    const raw = await rawClient({ port: server.port, password: PASSWORD, db: 4 });
    try {
      const taskId = await runTaskEndToEnd(app);
      await assertKeysIn(raw, taskId);
    } finally {
      await app.close();
      raw.disconnect();
    }
  });

  test('a wrong password makes app.connect() fail with an authentication error that does not show the password', TEST_TIMEOUT, async () => {
    const wrong = 'not-the-secret-4711';
    const err = await connectError(newApp(`redis://:${wrong}@127.0.0.1:${server.port}/3`));
    assert.match(err.message, /NOAUTH|WRONGPASS|auth/i, fullMessage(err));
    assert.ok(!fullMessage(err).includes(wrong), `the password is not in the message: ${fullMessage(err)}`);
  });

  test('no password at all against requirepass fails app.connect() with an authentication error', TEST_TIMEOUT, async () => {
    const err = await connectError(newApp(`redis://127.0.0.1:${server.port}/3`));
    assert.match(err.message, /NOAUTH|auth/i, fullMessage(err));
  });

  test('a wrong password for an ACL user fails app.connect() the same way', TEST_TIMEOUT, async () => {
    const err = await connectError(newApp(`redis://alice:wrong@127.0.0.1:${server.port}/3`));
    assert.match(err.message, /NOAUTH|WRONGPASS|auth/i, fullMessage(err));
  });

  /** An app whose broker URL is right and whose backend URL has `password`; with every log line kept. */
  function appWithBackendPassword(password: string): { app: App; logged: string[] } {
    const logged: string[] = [];
    const keep = (message: string, fields: Record<string, unknown> = {}) => {
      const shown = Object.entries(fields).map(([k, v]) => `${k}=${v instanceof Error ? fullMessage(v) : JSON.stringify(v)}`);
      logged.push([message, ...shown].join(' '));
    };
    const app = new App({
      broker: `redis://:${PASSWORD}@127.0.0.1:${server.port}/3`,
      backend: `redis://:${password}@127.0.0.1:${server.port}/3`,
      logger: { debug: keep, info: keep, warn: keep, error: keep },
    });
    return { app, logged };
  }

  test('a wrong password for the result backend alone fails app.connect(); the log says why and shows no part of the password', TEST_TIMEOUT, async () => {
    // An unencoded @ in it: masking must hide all of it, not stop at the first @.
    const wrong = 'wr@ng-4711';
    const { app, logged } = appWithBackendPassword(wrong);
    const err = await connectError(app);
    assert.ok(logged.some((line) => /WRONGPASS|NOAUTH|auth/i.test(line)), `a log line names the authentication failure:\n${logged.join('\n')}`);
    for (const text of [fullMessage(err), ...logged]) {
      assert.ok(!text.includes('ng-4711') && !text.includes('wr@ng'), `no part of the password in: ${text}`);
    }
  });

  test('a wrong password for the result backend alone: app.connect()\'s own error names authentication', {
    ...TEST_TIMEOUT,
    todo: 'RedisBackend.connect() rejects with ioredis\'s bare "Connection is closed." (ioredis 5 connect() reports no other error once the socket is up)',
  }, async () => {
    const { app } = appWithBackendPassword('wrong-4711');
    const err = await connectError(app);
    assert.match(fullMessage(err), /WRONGPASS|NOAUTH|auth/i, fullMessage(err));
  });
});

// ---------------------------------------------------------------------------------------------
// TLS

describe('rediss:// against a TLS redis-server with a throwaway CA', { skip: noTls }, () => {
  let dir: string;
  let server: Server;
  let caFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'celeriac-redis-tls-'));
    const certs = makeTestCertificates(dir);
    caFile = certs.caFile;
    const port = await freePort();
    server = await startRedis([
      '--port', '0', '--tls-port', String(port),
      '--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--tls-ca-cert-file', caFile,
      '--tls-auth-clients', 'no',
    ]);
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('rediss://host:port/0?ssl_ca_certs=<ca> runs a task end to end', TEST_TIMEOUT, async () => {
    const app = newApp(`rediss://127.0.0.1:${server.port}/0?ssl_ca_certs=${encodeURIComponent(caFile)}`);
    const raw = await rawClient({ port: server.port, db: 0, tls: { ca: [readFileSync(caFile)] } });
    try {
      const taskId = await runTaskEndToEnd(app);
      await assertKeysIn(raw, taskId);
    } finally {
      await app.close();
      raw.disconnect();
    }
  });

  test('ssl_cert_reqs=required without the CA: app.connect() fails with a certificate error', TEST_TIMEOUT, async () => {
    const err = await connectError(newApp(`rediss://127.0.0.1:${server.port}/0?ssl_cert_reqs=required`));
    assert.match(err.message, /certificate/i, fullMessage(err));
  });

  test('ssl_cert_reqs=none without the CA connects (nothing verified)', TEST_TIMEOUT, async () => {
    const app = newApp(`rediss://127.0.0.1:${server.port}/0?ssl_cert_reqs=none`);
    try {
      await app.connect();
      assert.equal(await app.broker.size('celery'), 0);
    } finally {
      await app.close();
    }
  });
});
