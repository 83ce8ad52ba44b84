/**
 * Redis restarts in the middle of a stream of publishes and acks (a throwaway redis-server with
 * AOF and fsync always, stopped with `redis-cli shutdown` and started again on the same port).
 * At-least-once: every message published is consumed, some possibly twice, none lost. And what
 * is settled or published while Redis is away lands once it is back, or fails with a clear error.
 */
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { Delivery, Logger } from '@celeriac/core';
import { eventually, within } from '@celeriac/testing';
import { decodeEnvelope, RedisBroker } from '@celeriac/redis';
import { Redis } from 'ioredis';
import { persistentRedis, tagOf, taskMessage, type PersistentRedis } from './broker-fixture.js';

const started = await persistentRedis();
const skip = typeof started === 'string' ? started : false;

describe('redis broker: a Redis restart mid-stream', { skip }, () => {
  const server = started as PersistentRedis;
  const lines: string[] = [];
  const record = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  // Each test has its own key prefix on the throwaway server, and its own producer and worker.
  let prefix = '';
  let url = '';
  let producer: RedisBroker;
  let worker: RedisBroker;
  let n = 0;
  beforeEach(() => {
    prefix = `restart-${++n}:`;
    url = `${server.url}?visibility_timeout=2&key_prefix=${prefix}`;
    producer = new RedisBroker({ url, logger });
    worker = new RedisBroker({ url, logger, blockTimeoutMs: 100 });
  });
  afterEach(async () => {
    await producer.close();
    await worker.close();
  });
  after(() => server.destroy());

  it('loses nothing', async () => {
    const total = 400;
    const seen = new Map<string, number>();
    await worker.consume(['stream'], (d) => {
      const tag = tagOf(d.message);
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
      // Settle a little later, so messages are held while Redis goes away.
      setTimeout(() => void d.ack().catch(() => undefined), 3);
    }, { prefetch: 20 });

    let restart: Promise<void> | null = null;
    for (let i = 0; i < total; i += 10) {
      if (i === 150) {
        restart = (async () => {
          await server.shutdown();
          await new Promise((r) => setTimeout(r, 300));
          await server.start();
        })();
      }
      await producer.publishMany(Array.from({ length: 10 }, (_, j) => ({ message: taskMessage(`m${i + j}`), options: { queue: 'stream' } })));
      await new Promise((r) => setTimeout(r, 5));
    }
    await restart;
    await eventually(() => seen.size === total, 60_000, `all ${total} messages consumed (have ${seen.size})`);
    const missing = Array.from({ length: total }, (_, i) => `m${i}`).filter((t) => !seen.has(t));
    assert.deepEqual(missing, []);
    assert.ok(lines.some((l) => l.includes('connection lost')), 'the outage was logged');
    assert.ok(lines.some((l) => l.includes('connection is back')), 'the reconnection was logged');
  });

  it('settles what was acked or rejected while Redis was away once it is back; publishes wait or fail clearly', async () => {
    await producer.publishMany(['x', 'y', 'z'].map((t) => ({ message: taskMessage(t), options: { queue: 'outage' } })));
    const held: Delivery[] = [];
    const consumer = await worker.consume(['outage'], (d) => held.push(d), { prefetch: 3 });
    await eventually(() => held.length === 3, 5000, 'three deliveries');
    await consumer.cancel();
    const raw = new Redis(server.url, { lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: null });
    raw.on('error', () => {});
    try {
      assert.equal(await raw.hlen(`${prefix}unacked`), 3);
      await server.shutdown();
      const [x, y, z] = held as [Delivery, Delivery, Delivery];
      const settling = [x.ack(), y.reject(true), worker.deadLetter(z, { code: 'test:outage', message: 'set aside during an outage' })];
      const impatient = new RedisBroker({ url, logger, connectionTimeoutMs: 200 });
      await assert.rejects(impatient.publish(taskMessage('never'), { queue: 'outage' }), (err: Error & { code?: string }) => err.code === 'CELERIAC_E_UNAVAILABLE' && /publish to queue "outage" failed: .*unavailable.*the message was not published/.test(err.message));
      await impatient.close();
      const patient = producer.publish(taskMessage('later'), { queue: 'outage' });
      await new Promise((r) => setTimeout(r, 300));
      await server.start();
      await Promise.all([...settling, patient]);
      assert.equal(await raw.hlen(`${prefix}unacked`), 0, 'the ack, the requeue and the dead letter all landed');
      const waiting = (await raw.lrange(`${prefix}outage`, 0, -1)).map((e) => decodeEnvelope(e)).map((d) => (d.ok ? String(d.message.headers['tag']) : '?'));
      assert.deepEqual(waiting.sort(), ['later', 'y']);
      assert.deepEqual((await worker.listDeadLetters({ queue: 'outage' })).map((e) => e.reason.code), ['test:outage']);
    } finally {
      raw.disconnect();
    }
  });

  it('closes without waiting for Redis to come back; what it held comes back later', async () => {
    const holder = new RedisBroker({ url, logger, connectionTimeoutMs: 300 });
    await holder.publish(taskMessage('held-through-outage'), { queue: 'closing' });
    const got: Delivery[] = [];
    await holder.consume(['closing', 'other'], (d) => got.push(d), { prefetch: 5 });
    await eventually(() => got.length === 1, 5000, 'the delivery');
    await server.shutdown();
    await within(holder.close(), 5000, 'close() while Redis is down');
    await server.start();
    // It stayed in unacked (nobody could give it back) and is restored after the timeout.
    const rescuer = new RedisBroker({ url, logger });
    const again: Delivery[] = [];
    const consumer = await rescuer.consume(['closing'], (d) => again.push(d), { prefetch: 5 });
    await eventually(() => again.length === 1, 10_000, 'the held message to come back');
    assert.equal(again[0]!.redelivered, true);
    assert.equal(again[0]!.deliveryTag, got[0]!.deliveryTag);
    await again[0]!.ack();
    await consumer.cancel();
    await rescuer.close();
  });
});
