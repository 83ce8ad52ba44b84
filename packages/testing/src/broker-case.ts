/**
 * The shape of one broker conformance case: a stable name (the key adapters use to skip it) and a
 * body that opens brokers through the harness, which closes them all when the case ends.
 */
import type { TestContext } from 'node:test';
import type { Broker, RawMessage } from '@celeriac/core';
import type { Waits } from './conformance-helpers.js';

export interface BrokerCaseHarness {
  /** A new, connected broker from the adapter's `create()`; closed after the case. */
  open(): Promise<Broker>;
  readonly waits: Waits;
  /**
   * Asserts a delivered message equals the published one, ignoring the fields the adapter declared
   * as its transport's own (`transportFields`).
   */
  assertSameMessage(actual: RawMessage | null | undefined, expected: RawMessage): void;
  /** The adapter's `serverPrefetch` option (see BrokerConformanceOptions). */
  readonly serverPrefetch: boolean;
}

export interface BrokerCase<Name extends string = string> {
  readonly name: Name;
  run(harness: BrokerCaseHarness, t: TestContext): Promise<void>;
}
