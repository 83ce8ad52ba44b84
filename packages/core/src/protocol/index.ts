/** The Celery protocol module: pure encoding and decoding, no I/O. */
export * from './task-message.js';
export * from './result-meta.js';
export * from './exception-codec.js';
export * from './signature-data.js';
export { formatIsoUtc, formatIsoNaiveUtc, parseIso } from './iso-time.js';
export { pyRepr, argsRepr, kwargsRepr, REPR_MAX_LENGTH } from './python-repr.js';
export { parseKombuJson } from './kombu-json.js';
