/**
 * Broker options and URLs: defaults, the URL query options, eager validation with the option
 * named, and loading through core's adapter table.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brokerFromUrl, ConfigError, silentLogger } from '@celeriac/core';
import { createBroker, DEFAULT_VISIBILITY_TIMEOUT_S, RedisBroker } from '@celeriac/redis';

describe('redis broker options', () => {
  it('has kombu\'s defaults and Celery-on-Redis capabilities', () => {
    const broker = new RedisBroker({ logger: silentLogger });
    assert.equal(broker.options.visibilityTimeoutS, DEFAULT_VISIBILITY_TIMEOUT_S);
    assert.equal(broker.options.keyPrefix, '');
    assert.equal(broker.options.server, 'localhost:6379/0');
    assert.equal(broker.keys.unacked, 'unacked');
    assert.deepEqual(broker.capabilities, {
      nativeDelay: false, priority: true, priorityOrder: 'lower-first', fanout: true, nativeDeadLetter: false, persistent: true, shared: true,
    });
  });

  it('reads visibility_timeout and key_prefix from the URL; explicit options win', () => {
    const broker = createBroker('redis://:secret@example.com:6380/4?visibility_timeout=120&key_prefix=app1:', { logger: silentLogger });
    assert.equal(broker.options.visibilityTimeoutS, 120);
    assert.equal(broker.options.keyPrefix, 'app1:');
    assert.equal(broker.options.server, 'example.com:6380/4');
    assert.equal(broker.options.displayUrl.includes('secret'), false);
    assert.equal(broker.keys.list('q', 9), 'app1:q\x06\x169');
    assert.equal(broker.keys.fanoutChannel('celeryev'), 'app1:/4.celeryev');
    const explicit = new RedisBroker({ url: 'redis://h/0?visibility_timeout=120', visibilityTimeout: 30, keyPrefix: 'x:', logger: silentLogger });
    assert.equal(explicit.options.visibilityTimeoutS, 30);
    assert.equal(explicit.options.keyPrefix, 'x:');
  });

  it('rejects bad options eagerly, naming them', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => createBroker('redis://h/0?visibility_timeout=soon'), /visibility_timeout.*"soon"/],
      [() => createBroker('redis://h/0?visibility_timeout=0'), /visibilityTimeout/],
      [() => createBroker('redis://h/0?prefetch=3'), /unknown Redis broker URL option "prefetch"/],
      [() => new RedisBroker({ blockTimeoutMs: -1 }), /blockTimeoutMs.*-1/],
      [() => new RedisBroker({ connectionTimeoutMs: Number.NaN }), /connectionTimeoutMs/],
      [() => createBroker('amqp://h'), /redis:\/\/localhost/],
    ];
    for (const [make, message] of cases) assert.throws(make, (err: unknown) => err instanceof ConfigError && message.test(err.message));
  });

  it('rejects bad arguments to publish and consume before touching Redis', async () => {
    const broker = new RedisBroker({ url: 'redis://127.0.0.1:1/0', logger: silentLogger });
    await assert.rejects(broker.publish({ headers: {}, properties: {}, body: '', contentType: '', contentEncoding: '' }, { queue: '' }), ConfigError);
    await assert.rejects(broker.consume([], () => {}, { prefetch: 1 }), ConfigError);
    await assert.rejects(broker.consume(['q'], () => {}, { prefetch: 0 }), /prefetch.*0/);
    await broker.close();
    await assert.rejects(broker.publish({ headers: {}, properties: {}, body: '', contentType: '', contentEncoding: '' }, { queue: 'q' }), /closed/);
  });

  it('is what core loads for redis:// and rediss:// URLs', async () => {
    const broker = await brokerFromUrl('redis://127.0.0.1:6379/0?key_prefix=unused:', { logger: silentLogger });
    assert.ok(broker instanceof RedisBroker);
    await broker.close();
    const tls = await brokerFromUrl('rediss://127.0.0.1:6380/1?ssl_cert_reqs=none', { logger: silentLogger });
    assert.ok(tls instanceof RedisBroker);
    assert.equal((tls as RedisBroker).options.connection.tls?.certReqs, 'none');
    await tls.close();
  });

  it('fails connect() and publish() with CELERIAC_E_UNAVAILABLE when Redis cannot be reached', async () => {
    const broker = new RedisBroker({ url: 'redis://127.0.0.1:1/0', connectionTimeoutMs: 300, logger: silentLogger });
    await assert.rejects(broker.connect(), (err: Error & { code?: string }) => err.code === 'CELERIAC_E_UNAVAILABLE' && /127\.0\.0\.1:1\/0/.test(err.message));
    await assert.rejects(broker.publish({ headers: {}, properties: {}, body: '', contentType: '', contentEncoding: '' }, { queue: 'q' }), /publish to queue "q" failed.*unavailable/);
    await broker.close();
  });
});
