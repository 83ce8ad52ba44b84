/**
 * Pure parts of @celeriac/amqp: URLs as kombu writes them (vhost forms, defaults, options and
 * their errors, the masked form) and header values typed for py-amqp 5.1 (every integer `int32`
 * or `int64`, other numbers `double`, nested lists and tables too), decoded back to plain data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@celeriac/core';
import { maskUrl, parseAmqpUrl, plainField, typedHeaders } from '@celeriac/amqp';

describe('amqp URLs', () => {
  it('reads the vhost the way kombu writes it', () => {
    for (const [url, vhost] of [
      ['amqp://guest:guest@localhost:5672//', '/'],
      ['amqp://guest:guest@localhost:5672/', '/'],
      ['amqp://localhost', '/'],
      ['amqp://localhost/%2F', '/'],
      ['amqp://localhost/staging', 'staging'],
      ['amqp://localhost/a%2Fb', 'a/b'],
    ] as const) {
      assert.equal(parseAmqpUrl(url).vhost, vhost, url);
      assert.equal(parseAmqpUrl(url).connect.vhost, vhost, url);
    }
  });

  it('has RabbitMQ\'s defaults and reads the options', () => {
    const plain = parseAmqpUrl('amqp://rabbit');
    assert.deepEqual([plain.connect.hostname, plain.connect.port, plain.connect.username, plain.connect.password], ['rabbit', 5672, 'guest', 'guest']);
    assert.equal(plain.maxPriority, 0);
    assert.equal(plain.tls, null);
    const tls = parseAmqpUrl('amqps://u:p%40ss@rabbit/v?max_priority=10&heartbeat=5&connection_timeout=250&cert_reqs=CERT_NONE');
    assert.deepEqual([tls.connect.port, tls.connect.username, tls.connect.password, tls.connect.protocol], [5671, 'u', 'p@ss', 'amqps']);
    assert.deepEqual([tls.maxPriority, tls.heartbeatS, tls.connectionTimeoutMs, tls.tls?.rejectUnauthorized], [10, 5, 250, false]);
    assert.equal(tls.shown, 'amqps://u:***@rabbit/v?max_priority=10&heartbeat=5&connection_timeout=250&cert_reqs=CERT_NONE');
  });

  it('refuses what it cannot honour, naming it', () => {
    assert.throws(() => parseAmqpUrl('redis://localhost'), ConfigError);
    assert.throws(() => parseAmqpUrl('amqp://localhost?prefetch=4'), /unknown AMQP URL option "prefetch"/);
    assert.throws(() => parseAmqpUrl('amqp://localhost?max_priority=300'), /at most 255/);
    assert.throws(() => parseAmqpUrl('amqp://localhost?max_priority=high'), /integer/);
    assert.throws(() => parseAmqpUrl('amqp://localhost?ca_certs=/x.pem'), /needs an amqps/);
    assert.throws(() => parseAmqpUrl('amqps://localhost?ca_certs=/does/not/exist.pem'), /cannot read/);
    assert.equal(maskUrl('amqp://user:secret@host//'), 'amqp://user:***@host//');
  });
});

describe('amqp header values', () => {
  it('types the numbers amqplib would write so that py-amqp 5.1 misreads them', () => {
    const headers = { retries: 0, timelimit: [300, 240.5], wide: 70_000, big: 2 ** 40, nested: { n: -3, s: 'x', none: null, yes: true }, same: ['a', null] };
    const typed = typedHeaders(headers);
    assert.deepEqual(typed, {
      retries: { '!': 'int32', value: 0 },
      timelimit: [{ '!': 'int32', value: 300 }, 240.5],
      wide: 70_000,
      big: { '!': 'int64', value: 2 ** 40 },
      nested: { n: { '!': 'int32', value: -3 }, s: 'x', none: null, yes: true },
      same: ['a', null],
    });
    assert.equal(typed['same'], headers.same, 'what needs no change is not copied');
    assert.deepEqual(headers.timelimit, [300, 240.5], 'the input is not changed');
  });

  it('decodes timestamps, decimals and nested values to plain data', () => {
    assert.deepEqual(plainField({ t: { '!': 'timestamp', value: 1700000000 }, d: { '!': 'decimal', value: { places: 2, digits: 1234 } }, l: [1, 'a', { b: 2 }] }), {
      t: 1700000000,
      d: 12.34,
      l: [1, 'a', { b: 2 }],
    });
  });
});
