/**
 * What the Redis result backend writes, byte for byte where Celery's readers care: key names,
 * expiry, the PUBLISH on the key's channel, the SUCCESS guard (atomic, with no PUBLISH when it
 * keeps the stored value), and its lifecycle.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ClosedError, ConfigError, silentLogger, type Logger, type ResultMeta } from '@celeriac/core';
import { sampleMeta } from '@celeriac/testing';
import { RedisBackend, createBackend, parseRedisUrl } from '@celeriac/redis';
import type { Redis } from 'ioredis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';

const skip = await redisSkipReason();
const prefix = uniquePrefix('backend-layout');
const url = withPrefix(REDIS_URL, prefix);

/** Subscribes a plain client to `channel` and yields its messages in order. */
async function listen(channel: string): Promise<{ next(): Promise<string>; close(): void }> {
  const sub = rawClient();
  const queue: string[] = [];
  const waiting: ((m: string) => void)[] = [];
  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    const w = waiting.shift();
    if (w) w(message);
    else queue.push(message);
  });
  await sub.subscribe(channel);
  return {
    next: () => new Promise<string>((resolve) => (queue.length ? resolve(queue.shift()!) : waiting.push(resolve))),
    close: () => sub.disconnect(),
  };
}

describe('redis result backend: layout', { skip }, () => {
  let raw: Redis;
  let backend: RedisBackend;
  before(async () => {
    raw = rawClient();
    backend = new RedisBackend({ url, logger: silentLogger });
    await backend.connect();
  });
  after(async () => {
    await backend?.close();
    await deletePrefixed(raw, prefix);
    raw.disconnect();
  });

  it('stores the meta JSON under <prefix>celery-task-meta-<id>, with SETEX or SET', async () => {
    const id = randomUUID();
    const meta = sampleMeta(id);
    await backend.set(id, meta, { expiresIn: 86_400 });
    const key = `${prefix}celery-task-meta-${id}`;
    assert.equal(await raw.get(key), JSON.stringify(meta));
    const ttl = await raw.ttl(key);
    assert.ok(ttl > 0 && ttl <= 86_400, `TTL ${ttl}`);

    const forever = randomUUID();
    await backend.set(forever, sampleMeta(forever), { expiresIn: null });
    assert.equal(await raw.ttl(`${prefix}celery-task-meta-${forever}`), -1);
    const zero = randomUUID();
    await backend.set(zero, sampleMeta(zero), { expiresIn: 0 });
    assert.equal(await raw.ttl(`${prefix}celery-task-meta-${zero}`), -1, 'expiresIn 0 disables expiry, as result_expires=0 does');

    const fractional = randomUUID();
    await backend.set(fractional, sampleMeta(fractional), { expiresIn: 1.5 });
    const pttl = await raw.pttl(`${prefix}celery-task-meta-${fractional}`);
    assert.ok(pttl > 0 && pttl <= 1500, `PTTL ${pttl}`);
    await assert.rejects(backend.set(randomUUID(), sampleMeta('x'), { expiresIn: -1 }), ConfigError);
  });

  it('publishes each stored value on the key channel, and nothing when a SUCCESS is kept', async () => {
    const id = randomUUID();
    const channel = `${prefix}celery-task-meta-${id}`;
    const messages = await listen(channel);
    try {
      const started = sampleMeta(id, 'STARTED', null);
      await backend.set(id, started);
      assert.equal(await messages.next(), JSON.stringify(started));
      const success = sampleMeta(id, 'SUCCESS', 7);
      await backend.set(id, success);
      assert.equal(await messages.next(), JSON.stringify(success));
      await backend.set(id, sampleMeta(id, 'FAILURE', { exc_type: 'ValueError', exc_message: ['late'], exc_module: 'builtins' }));
      // A marker published after the kept write: the next message must be it, not a FAILURE.
      await raw.publish(channel, 'marker');
      assert.equal(await messages.next(), 'marker');
      assert.equal(await raw.get(channel), JSON.stringify(success));
    } finally {
      messages.close();
    }
  });

  it('keeps a SUCCESS against many concurrent writers', async () => {
    const id = randomUUID();
    const writers = await Promise.all([0, 1, 2].map(async () => new RedisBackend({ url, logger: silentLogger })));
    try {
      const writes = [];
      for (let i = 0; i < 30; i++) {
        const w = writers[i % writers.length]!;
        writes.push(w.set(id, i === 15 ? sampleMeta(id, 'SUCCESS', 'the one') : sampleMeta(id, 'RETRY', { exc_type: 'KeyError', exc_message: [i] })));
      }
      await Promise.all(writes);
      // Whatever the interleaving, once the one SUCCESS landed nothing replaced it.
      await backend.set(id, sampleMeta(id, 'FAILURE', null));
      assert.deepEqual(await backend.get(id), sampleMeta(id, 'SUCCESS', 'the one'));
    } finally {
      await Promise.all(writers.map((w) => w.close()));
    }
  });

  it('stores date_done and other fields as given: naive, aware, custom keys', async () => {
    const naive = randomUUID();
    const aware = randomUUID();
    const naiveMeta = { ...sampleMeta(naive), date_done: '2026-11-21T13:27:02.355917' };
    const awareMeta: ResultMeta = { ...sampleMeta(aware), date_done: '2026-11-21T13:27:02.355917+00:00', group_id: 'g1', parent_id: 'p1', custom: { x: [1] } };
    await backend.set(naive, naiveMeta);
    await backend.set(aware, awareMeta);
    assert.deepEqual(await backend.getMany([naive, aware]), [naiveMeta, awareMeta]);
  });

  it('reads a missing or unreadable value as null, and a minimal Celery meta with defaults', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => void warnings.push(m) };
    const reader = new RedisBackend({ url, logger });
    try {
      const bad = randomUUID();
      await raw.set(`${prefix}celery-task-meta-${bad}`, 'not json {');
      assert.equal(await reader.get(bad), null);
      assert.equal(warnings.length, 1);
      const minimal = randomUUID();
      await raw.set(`${prefix}celery-task-meta-${minimal}`, '{"status": "PROGRESS", "result": {"done": 3}}');
      assert.deepEqual(await reader.get(minimal), {
        status: 'PROGRESS',
        result: { done: 3 },
        traceback: null,
        children: [],
        date_done: null,
        task_id: minimal,
      });
    } finally {
      await reader.close();
    }
  });

  it('keeps prefixes apart', async () => {
    const other = new RedisBackend({ url: withPrefix(REDIS_URL, `${prefix}other:`), logger: silentLogger });
    try {
      const id = randomUUID();
      await other.set(id, sampleMeta(id));
      assert.equal(await backend.get(id), null);
      assert.deepEqual(await other.get(id), sampleMeta(id));
      assert.equal(await raw.exists(`${prefix}other:celery-task-meta-${id}`), 1);
    } finally {
      await other.close();
    }
  });

  it('close() is idempotent; afterwards calls fail with ClosedError and watch() resolves', async () => {
    const b = createBackend(url, { logger: silentLogger });
    await b.connect();
    await b.set('x', sampleMeta('x', 'STARTED', null));
    await b.close();
    await b.close();
    await assert.rejects(b.get('x'), ClosedError);
    await assert.rejects(b.set('x', sampleMeta('x')), ClosedError);
    await b.watch('x').woken;
  });

  it('connect() rejects when the server cannot be reached', async () => {
    const b = new RedisBackend({ url: 'redis://127.0.0.1:1/0', logger: silentLogger });
    try {
      await assert.rejects(b.connect());
    } finally {
      await b.close();
    }
  });
});

describe('redis result backend: options', () => {
  it('validates its URL and options eagerly', () => {
    assert.throws(() => new RedisBackend({ url: 'http://localhost' }), ConfigError);
    assert.throws(() => new RedisBackend({ url: 'redis://localhost/notadb' }), ConfigError);
    assert.throws(() => new RedisBackend({ url: 'redis://localhost/0?bogus=1' }), /unknown Redis result backend URL option "bogus"/);
    assert.throws(() => new RedisBackend({ url: 'redis://localhost/0?ssl_cert_reqs=none' }), /needs the rediss:\/\/ scheme/);
    assert.throws(() => new RedisBackend({ url: 'rediss://localhost/0?ssl_cert_reqs=maybe' }), /ssl_cert_reqs/);
    assert.throws(() => new RedisBackend({ unsubscribeDelay: -1 }), /unsubscribeDelay/);
    new RedisBackend({ url: 'redis://localhost/0?visibility_timeout=3600', logger: silentLogger });
    const b = new RedisBackend({ url: 'redis://:secret@localhost:6380/3?key_prefix=a%3Ab%3A', logger: silentLogger });
    assert.equal(b.keys.task('t'), 'a:b:celery-task-meta-t');
    assert.equal(b.keys.group('g', '.j'), 'a:b:celery-taskset-meta-g.j');
    assert.equal(new RedisBackend({ logger: silentLogger, keyPrefix: '' }).keys.task('t'), 'celery-task-meta-t');
  });

  it('parses Celery-style URLs', () => {
    assert.deepEqual(parseRedisUrl('redis://'), { connection: { host: 'localhost', port: 6379, db: 0 }, keyPrefix: '', options: new Map() });
    assert.deepEqual(parseRedisUrl('redis://:p%40ss@cache.local:6390/5?key_prefix=t%3A&visibility_timeout=10'), {
      connection: { host: 'cache.local', port: 6390, db: 5, password: 'p@ss' },
      keyPrefix: 't:',
      options: new Map([['visibility_timeout', '10']]),
    });
    assert.deepEqual(parseRedisUrl('rediss://user:pw@[::1]:6380/1?ssl_cert_reqs=CERT_NONE').connection, {
      host: '::1',
      port: 6380,
      db: 1,
      username: 'user',
      password: 'pw',
      tls: { certReqs: 'none' },
    });
    assert.deepEqual(parseRedisUrl('rediss://h/0').connection.tls, { certReqs: 'required' });
    assert.throws(
      () => parseRedisUrl('redis://:hunter2@h/x'),
      (err: Error) => err instanceof ConfigError && err.message.includes('***') && !err.message.includes('hunter2'),
    );
  });
});
