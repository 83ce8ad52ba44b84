/**
 * The broker conformance suite on RabbitMQ, in a vhost of its own, with priority queues
 * (`max_priority=9`). AMQP carries Celery's properties in its own fields; `priority` is always
 * sent (0 unless given, as kombu does), so it is a transport field. RabbitMQ pushes messages ahead
 * up to the prefetch (`serverPrefetch`).
 */
import { after, before, test } from 'node:test';
import { brokerConformance } from '@celeriac/testing';
import { AmqpBroker } from '@celeriac/amqp';
import { silentLogger } from '@celeriac/core';
import { amqpSkipReason, VhostScope } from './amqp-fixture.js';

const skip = await amqpSkipReason();
const scope = new VhostScope();

if (skip) {
  test('broker conformance: amqp', { skip }, () => {});
} else {
  before(() => scope.create());
  after(() => scope.cleanup());
  brokerConformance('amqp', {
    create: async () => new AmqpBroker({ url: scope.url('max_priority=9'), logger: silentLogger }),
    transportFields: { properties: ['priority'] },
    // basic.qos: RabbitMQ pushes up to the prefetch ahead, so what a cancel gives back comes again
    // marked redelivered (AMQP's own meaning of the flag).
    serverPrefetch: true,
  });
}
