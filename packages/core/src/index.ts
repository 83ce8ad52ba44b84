/**
 * @celeriac/core: the public API. Everything not named here is internal.
 */
export { App, type AppOptions } from './app.js';
export { Task, type RegisteredTask, type TaskFunction } from './task.js';
export type { TaskOptions, ErrorMatcher } from './task-options.js';
export type { ApplyOptions, CallOptions } from './apply-options.js';
export type { TaskContext, RetryOptions } from './task-context.js';
export { AsyncResult, errorFromMeta, type GetOptions } from './result.js';
export { GroupResult, type MemberResult } from './group-result.js';
export {
  signature,
  partial,
  clone,
  withOptions,
  immutable,
  link,
  linkError,
  toSignature,
  isGroup,
  isChain,
  isChord,
  type Signature,
  type GroupSignature,
  type ChainSignature,
  type ChordSignature,
  type SignatureInit,
  type SubtaskType,
} from './canvas/signature.js';
export { chain, group, chord, map, starmap, chunks } from './canvas/primitives.js';
export type { CanvasApplyOptions } from './canvas/send.js';
export type { SignatureCallOptions } from './canvas/sig-options.js';
export { Worker, type WorkerOptions, type WorkerState, type WorkerStats } from './worker/worker.js';
export { exponentialBackoff } from './retry-policy.js';
export { retryDriverOperation, abortableSleep, type DriverErrorClass, type DriverRetryOptions } from './driver-retry.js';
export { consoleLogger, silentLogger, isLogLevel, type Logger, type LogLevel, type LogFields } from './logger.js';
export { brokerFromUrl, backendFromUrl, checkUrl, schemeOf, DEFAULT_URL, ADAPTER_PACKAGES, type AdapterModule, type AdapterContext } from './adapters.js';
export { Lifecycle } from './lifecycle.js';

export type {
  Broker,
  BrokerCapabilities,
  ConsumeOptions,
  Consumer,
  DeadLetterEntry,
  DeadLetterReason,
  Delivery,
  ListDeadLettersOptions,
  OutgoingMessage,
  PublishOptions,
} from './broker/broker.js';
export { checkPrefetch } from './broker/broker.js';
export { MemoryBroker } from './broker/memory-broker.js';
export { clampPriority, MAX_PRIORITY } from './broker/priority-queue.js';
export type { ResultBackend, BackendCapabilities, ResultWatch, SetResultOptions } from './backend/result-backend.js';
export { MemoryBackend } from './backend/memory-backend.js';
export { isResultTuple, type ResultTuple, type GroupStore, type ChordStore, type ChordPart, type ChordPartInput, type ChordPartOutcome } from './backend/groups-and-chords.js';
export { waitForReady } from './backend/wait-for-result.js';
export { DeadlineQueue, type Deadline, type Stoppable } from './deadline-queue.js';

export * from './errors.js';
export * from './protocol/index.js';
