/**
 * amqps:// and credentials against a throwaway RabbitMQ node listening for TLS only, with a CA and
 * certificate made by `openssl` (scratch-rabbit.ts, redis/test/test-certs.ts):
 * - with `ca_certs`, an App on amqps:// runs a task end to end through a worker;
 * - without the CA (certificates required), connecting fails at once with an error that names the
 *   certificate problem, not after the connection timeout;
 * - a wrong password fails at once with RabbitMQ's ACCESS_REFUSED in the message;
 * - review: a consumer whose connection is closed while its password is wrong (changed on the
 *   server) keeps trying, and consumes again once the password is right again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, silentLogger, Worker, type Delivery, type Logger } from '@celeriac/core';
import { eventually, sampleMessage } from '@celeriac/testing';
import { AmqpBroker } from '@celeriac/amqp';
import { makeTestCertificates } from '../../redis/test/test-certs.js';
import { ScratchRabbit } from './scratch-rabbit.js';

const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? false : 'openssl is not installed (to make a throwaway CA)';
const dir = mkdtempSync(join(tmpdir(), 'celeriac-amqps-'));
const certs = noOpenssl ? null : makeTestCertificates(dir);
const rabbit = certs ? await ScratchRabbit.start({ tls: certs }).catch((err: Error) => `the TLS RabbitMQ node did not start: ${err.message}`) : noOpenssl;
const skip = typeof rabbit === 'string' ? rabbit : false;
if (skip && process.env['CI']) throw new Error(`${skip}; CI is set, so this is a failure, not a skip`);

describe('amqps:// and credentials', { skip, timeout: 120_000 }, () => {
  const node = rabbit instanceof ScratchRabbit ? rabbit : null;
  after(async () => {
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with ca_certs, a task runs end to end over TLS', async () => {
    const url = `${node!.url}?ca_certs=${encodeURIComponent(certs!.caFile)}`;
    assert.match(url, /^amqps:\/\//);
    const app = new App({ broker: url, backend: 'memory://', logger: silentLogger });
    const add = app.task('tls.add', (_ctx, a: number, b: number) => a + b);
    await app.connect();
    const worker = Worker.create(app, { concurrency: 1 });
    const running = worker.run();
    try {
      assert.equal(await (await add.delay(20, 22)).get({ timeout: 20_000 }), 42);
    } finally {
      await worker.shutdown();
      await running;
      await app.close();
    }
  });

  it('without the CA, connecting fails at once, naming the certificate', async () => {
    const broker = new AmqpBroker({ url: `${node!.url}?connection_timeout=60000`, logger: silentLogger });
    try {
      // 'cannot connect: <reason>' is the error of a fatal attempt; waiting out the timeout would
      // give 'no connection within 60000 ms'.
      await assert.rejects(broker.connect(), (err: Error) => /certificate/i.test(err.message) && err.message.includes('cannot connect'));
    } finally {
      await broker.close();
    }
  });

  it('a wrong password fails at once with ACCESS_REFUSED', async () => {
    const url = node!.url.replace('guest:guest@', 'guest:wrong@');
    const broker = new AmqpBroker({ url: `${url}?connection_timeout=60000&ca_certs=${encodeURIComponent(certs!.caFile)}`, logger: silentLogger });
    try {
      await assert.rejects(broker.connect(), /ACCESS[-_]REFUSED/);
    } finally {
      await broker.close();
    }
  });

  it('a consumer keeps trying through refused logins after it was connected', async () => {
    const url = `${node!.url}?ca_certs=${encodeURIComponent(certs!.caFile)}`;
    const refused: string[] = [];
    const logger: Logger = { ...silentLogger, error: (message) => void refused.push(message) };
    const broker = new AmqpBroker({ url, logger });
    const got: Delivery[] = [];
    try {
      await broker.consume(['refused'], (d) => got.push(d), { prefetch: 1 });
      await node!.ctl('change_password', 'guest', 'not-guest');
      const connections = (await node!.ctl('list_connections', 'pid', '-q', '--no-table-headers')).split('\n').map((l) => l.trim()).filter(Boolean);
      for (const pid of connections) await node!.ctl('close_connection', pid, 'test: refused logins');
      await eventually(() => refused.some((m) => /ACCESS[-_]REFUSED/.test(m)), 30_000, 'a reconnect to be refused');
      await node!.ctl('change_password', 'guest', 'guest');
      const sender = new AmqpBroker({ url, logger: silentLogger });
      try {
        await sender.publish(sampleMessage('after'), { queue: 'refused' });
      } finally {
        await sender.close();
      }
      await eventually(() => got.length === 1, 30_000, 'the consumer to consume again');
      await got[0]!.ack();
    } finally {
      await node!.ctl('change_password', 'guest', 'guest').catch(() => '');
      await broker.close();
    }
  });
});
