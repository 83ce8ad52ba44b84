/**
 * @celeriac/redis: the Celery-compatible Redis broker and result backend (ioredis). Core's adapter
 * loader calls `createBroker(url)` / `createBackend(url)` for `redis://` and `rediss://` URLs.
 */
export { RedisBackend, createBackend, DEFAULT_REDIS_URL, DEFAULT_UNSUBSCRIBE_DELAY_MS, type RedisBackendOptions } from './redis-backend.js';
export { ResultKeys, TASK_KEY_PREFIX, GROUP_KEY_PREFIX, ChordKeySuffix } from './result-keys.js';
export {
  parseRedisUrl,
  ioredisOptions,
  rejectUnknownOptions,
  DEFAULT_REDIS_PORT,
  type ParsedRedisUrl,
  type RedisConnectionConfig,
  type RedisTlsOptions,
  type CertRequirement,
} from './redis-url.js';
export { RedisBroker, createBroker } from './redis-broker.js';
export {
  DEFAULT_BROKER_URL,
  DEFAULT_VISIBILITY_TIMEOUT_S,
  DEFAULT_BLOCK_TIMEOUT_MS,
  DEFAULT_CONNECTION_TIMEOUT_MS,
  type RedisBrokerOptions,
  type ResolvedBrokerOptions,
} from './redis-broker-options.js';
export type { RedisConsumer, ConsumerState as RedisConsumerState } from './redis-consumer.js';
export { RedisUnavailableError, classifyRedisError, type RedisErrorClass } from './redis-errors.js';
export {
  encodeEnvelope,
  decodeEnvelope,
  markRedelivered,
  publishPriority,
  type DecodedEnvelope,
  type EnvelopeTarget,
} from './kombu-envelope.js';
export type { FanoutMessage, FanoutSubscription, SubscribeOptions } from './redis-fanout.js';
export { KombuKeys, SEP, PRIORITY_STEPS, priorityStep, bucketName, bindingMember } from './kombu-keys.js';
