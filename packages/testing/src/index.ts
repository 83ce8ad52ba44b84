/**
 * @celeriac/testing: the conformance suites every broker and result backend runs, built on
 * node:test. See README.md for how an adapter uses them.
 */
export { brokerConformance, BROKER_TEST_NAMES, type BrokerConformanceOptions, type BrokerTestName } from './broker-conformance.js';
export { backendConformance, BACKEND_TEST_NAMES, sampleMeta, type BackendConformanceOptions, type BackendTestName } from './backend-conformance.js';
export { Inbox, sampleMessage, uniqueQueue, within, eventually, type Waits } from './conformance-helpers.js';
export { canvasConformance, type CanvasConformanceOptions } from './canvas-conformance.js';
