/**
 * `@celeriac/redis/lua-scripts`: the Lua scripts the broker and the result backend run, for tools
 * that must issue exactly the commands celeriac issues without going through its classes (the
 * bench's floor row, bench/src/raw-redis/). Not part of the package's main API (`.`): the scripts'
 * KEYS/ARGV layouts (documented on each) change with the broker and backend.
 */
export { TAKE, ACK } from './broker-scripts.js';
export { STORE_AND_PUBLISH_MANY } from './result-scripts.js';
/** How a consumer's landing list is named in `celeriac.landings` (KombuKeys.landing takes it). */
export { landingMember } from './kombu-keys.js';
