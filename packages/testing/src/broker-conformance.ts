/**
 * The broker conformance suite. An adapter's test file calls `brokerConformance()` once; it
 * registers one `describe` block with a test per behaviour of the {@link Broker} contract.
 *
 * Every test uses fresh queue names, so the suite can run against a store shared with other tests
 * (a Redis database, a SQLite file) without flushing it. Behaviours a broker does not declare in
 * its `capabilities` (priority, native delay, sharing between instances) are skipped at run time;
 * anything else an adapter cannot do must be listed in `skip` with the reason.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, type Broker, type RawMessage } from '@celeriac/core';
import type { Waits } from './conformance-helpers.js';
import type { BrokerCase } from './broker-case.js';
import { deliveryCases, DELIVERY_CASE_NAMES, type DeliveryCaseName } from './broker-cases-delivery.js';
import { flowCases, FLOW_CASE_NAMES, type FlowCaseName } from './broker-cases-flow.js';

/** Every broker conformance test, by the name `skip` uses. */
export const BROKER_TEST_NAMES: readonly BrokerTestName[] = [...DELIVERY_CASE_NAMES, ...FLOW_CASE_NAMES];
export type BrokerTestName = DeliveryCaseName | FlowCaseName;

export interface BrokerConformanceOptions {
  /**
   * Makes a new broker instance. For a shared broker (`capabilities.shared`), instances made by
   * successive calls must talk to the same store: one test closes an instance and checks what a
   * second one sees. The suite calls `connect()` and `close()` itself.
   */
  create: () => Promise<Broker>;
  /** Tests this adapter cannot pass, each with the reason (shown in the test report). */
  skip?: Partial<Record<BrokerTestName, string>>;
  /**
   * Longest wait, in milliseconds, for something that must happen (a delivery).
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * How long, in milliseconds, a test watches for something that must not happen (a delivery past
   * the prefetch limit, a redelivery after ack). Longer than the broker's poll interval.
   * @default 250
   */
  quietMs?: number;
  /**
   * Header and property names the transport itself writes, which a delivered message may carry
   * with other values than the published one (kombu's Redis layout owns `properties.delivery_info`
   * and `properties.priority`, and marks requeued messages with `headers.redelivered`). They are
   * left out when a test compares a delivered message with the published one.
   * @default none
   */
  transportFields?: { readonly headers?: readonly string[]; readonly properties?: readonly string[] };
  /**
   * The server pushes messages to a consumer ahead, up to its prefetch (AMQP's basic.qos): those
   * a cancelled consumer gives back were delivered as far as the server knows, and come again
   * marked redelivered. Only that mark is then not checked; the rest of each case holds.
   * @default false
   */
  serverPrefetch?: boolean;
}

/** Registers the broker conformance tests under `describe(\`broker conformance: ${name}\`)`. */
export function brokerConformance(name: string, options: BrokerConformanceOptions): void {
  const waits = validateWaits(options.timeoutMs, options.quietMs);
  for (const key of Object.keys(options.skip ?? {})) {
    if (!(BROKER_TEST_NAMES as readonly string[]).includes(key)) {
      throw new ConfigError(`brokerConformance: skip names an unknown test ${JSON.stringify(key)}; known: ${BROKER_TEST_NAMES.join(', ')}`);
    }
  }
  const cases: readonly BrokerCase<BrokerTestName>[] = [...deliveryCases, ...flowCases];
  const assertSameMessage = (actual: RawMessage | null | undefined, expected: RawMessage) => {
    assert.ok(actual, 'a message was delivered');
    assert.deepEqual(withoutTransportFields(actual, options.transportFields), withoutTransportFields(expected, options.transportFields));
  };
  describe(`broker conformance: ${name}`, () => {
    for (const c of cases) {
      const reason = options.skip?.[c.name];
      it(c.name, { skip: reason ?? false }, async (t) => {
        const opened: Broker[] = [];
        const open = async () => {
          const broker = await options.create();
          opened.push(broker);
          await broker.connect();
          return broker;
        };
        try {
          await c.run({ open, waits, assertSameMessage, serverPrefetch: options.serverPrefetch ?? false }, t);
        } finally {
          for (const broker of opened) await broker.close();
        }
      });
    }
  });
}

export function validateWaits(timeoutMs = 5000, quietMs = 250): Waits {
  for (const [option, value] of [['timeoutMs', timeoutMs], ['quietMs', quietMs]] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigError(`conformance option ${option} must be a non-negative number of milliseconds, got ${String(value)}`);
    }
  }
  return { timeoutMs, quietMs };
}

function withoutTransportFields(message: RawMessage, fields: BrokerConformanceOptions['transportFields']): RawMessage {
  const drop = (record: Record<string, unknown>, names: readonly string[] = []) =>
    Object.fromEntries(Object.entries(record).filter(([key]) => !names.includes(key)));
  return { ...message, headers: drop(message.headers, fields?.headers), properties: drop(message.properties, fields?.properties) };
}
