/**
 * The broker conformance suite on Redis. A Celery-layout Redis broker owns three fields of a
 * message, as kombu does: `properties.delivery_info` (its `routing_key` is the queue the message
 * went to, which a Python worker uses to re-send retries), `properties.priority` (always written)
 * and `headers.redelivered` (set when a message is put back). They are declared as transport
 * fields; the values the broker writes there are checked in broker-layout.test.ts.
 */
import { after, test } from 'node:test';
import { brokerConformance } from '@celeriac/testing';
import { PrefixScope, redisSkipReason } from './broker-fixture.js';

const skip = await redisSkipReason();
const scope = new PrefixScope('conformance');
after(() => scope.cleanup());

if (skip) {
  test('broker conformance: redis', { skip }, () => {});
} else {
  brokerConformance('redis', {
    create: async () => scope.broker({ blockTimeoutMs: 100 }),
    transportFields: { headers: ['redelivered'], properties: ['delivery_info', 'priority'] },
  });
}
