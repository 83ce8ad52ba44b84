/**
 * @celeriac/amqp: the Celery-compatible RabbitMQ broker (amqplib) and the rpc:// result backend.
 * Core's adapter loader calls `createBroker(url)` for `amqp://` and `amqps://` URLs and
 * `createBackend(url, context)` for `rpc://`.
 */
export { AmqpBroker, createBroker, type AmqpBrokerOptions } from './amqp-broker.js';
export { RpcBackend, createBackend, RpcChordsNotSupportedError, RPC_NO_CHORDS } from './rpc-backend.js';
export { parseAmqpUrl, maskUrl, DEFAULT_AMQP_URL, type AmqpUrl } from './amqp-url.js';
export { AmqpUnavailableError } from './amqp-errors.js';
export { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE } from './amqp-topology.js';
export { typedField, typedHeaders, plainField } from './amqp-fields.js';
