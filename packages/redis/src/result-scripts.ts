/**
 * The result backend's Lua scripts. Each runs atomically on the server, where Celery issues a
 * GET followed by a pipeline (non-atomic): a store that checks for SUCCESS and writes in one step,
 * and a chord part that is counted, compared and (when it completes the chord) collected and
 * cleared in one step, so exactly one part ever sees the chord complete.
 *
 * Scripts run with EVALSHA and fall back to EVAL when the server has not cached them yet.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '@celeriac/core';
import type { Redis } from 'ioredis';

export class LuaScript {
  readonly sha: string;
  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const all: string[] = [...keys];
    // As ioredis would send them: numbers as text, a missing value (which the types exclude) as ''.
    for (const a of args) all.push(a === null || a === undefined ? '' : String(a));
    return this.runFlat(client, keys.length, all);
  }

  /** As run(), with KEYS and ARGV as one list whose first `keyCount` items are the keys. */
  async runFlat(client: Redis, keyCount: number, all: (string | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keyCount, all);
    } catch (err) {
      return this.evalIfUncached(err, client, keyCount, all);
    }
  }

  /**
   * After an EVALSHA of this script failed with `err`: when the server did not have the script
   * (NOSCRIPT: restarted, SCRIPT FLUSH), runs it with EVAL on `client`, which loads it again;
   * any other error is thrown again.
   */
  evalIfUncached(err: unknown, client: Redis, keyCount: number, all: (string | Buffer)[]): Promise<unknown> {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(this.source, keyCount, all);
  }
}

/** A time to live in milliseconds as the scripts take it (0 = none), from `SetResultOptions.expiresIn`. */
export function ttlMs(expiresIn: number | null | undefined, what: string): number {
  if (expiresIn === null || expiresIn === undefined || expiresIn === 0) return 0;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0) {
    throw new ConfigError(`${what} option "expiresIn" must be a non-negative number of seconds or null, got ${JSON.stringify(expiresIn)}`);
  }
  return Math.max(1, Math.ceil(expiresIn * 1000));
}

/**
 * Writes (SETEX/PSETEX, or SET without expiry) and PUBLISHes a value on the key's own channel,
 * unless the key holds a meta whose status is SUCCESS. Returns 1 when written, 0 when kept.
 *
 * KEYS[1] the key (also the channel); ARGV[1] the value; ARGV[2] time to live in ms, 0 = none;
 * ARGV[3] '1' to keep a stored SUCCESS, '0' to write unconditionally (group and chord-size keys,
 * which Celery writes with the same SETEX + PUBLISH but no guard).
 */
export const STORE_AND_PUBLISH = new LuaScript(
  'store-and-publish',
  `
local key, value, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
if ARGV[3] == '1' then
  local current = redis.call('GET', key)
  -- Decode only what can be a SUCCESS: a cheap substring test first.
  if current and string.find(current, 'SUCCESS', 1, true) then
    local ok, meta = pcall(cjson.decode, current)
    if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then return 0 end
  end
end
if ttl <= 0 then
  redis.call('SET', key, value)
elseif ttl % 1000 == 0 then
  redis.call('SETEX', key, ttl / 1000, value)
else
  redis.call('PSETEX', key, ttl, value)
end
redis.call('PUBLISH', key, value)
return 1
`,
);

/**
 * One finished chord header part, as Celery 5.2's Redis backend records it with
 * `result_chord_ordered=True`: ZADD to `.j` scored by group index, ZCOUNT, GET `.t` and `.s`,
 * EXPIRE all three. When the count reaches size + `.t`, the parts are read in score order and the
 * three keys deleted, in the same step.
 *
 * KEYS[1] `.j`, KEYS[2] `.t`, KEYS[3] `.s`; ARGV[1] the encoded part `[1, id, state, result]`;
 * ARGV[2] its score (group index, or '+inf'); ARGV[3] seconds to keep the keys, 0 = no EXPIRE;
 * ARGV[4] the part's task id. A part whose task is already recorded (a redelivered header task
 * that ran again, maybe with another result) is not added again: members at the same score are
 * decoded and their ids compared, whichever worker (Python or celeriac) wrote them.
 * Returns `{count, size or '', diff, complete (0|1), parts (only when complete)}`.
 */
export const ADD_CHORD_PART = new LuaScript(
  'add-chord-part',
  `
local jkey, tkey, skey = KEYS[1], KEYS[2], KEYS[3]
local seen = false
for _, member in ipairs(redis.call('ZRANGEBYSCORE', jkey, ARGV[2], ARGV[2])) do
  local ok, part = pcall(cjson.decode, member)
  if ok and type(part) == 'table' and part[2] == ARGV[4] then seen = true break end
end
if not seen then redis.call('ZADD', jkey, ARGV[2], ARGV[1]) end
local count = redis.call('ZCOUNT', jkey, '-inf', '+inf')
local diff = tonumber(redis.call('GET', tkey) or '0') or 0
local size = redis.call('GET', skey)
local expires = tonumber(ARGV[3])
if expires > 0 then
  redis.call('EXPIRE', jkey, expires)
  redis.call('EXPIRE', tkey, expires)
  redis.call('EXPIRE', skey, expires)
end
if not size then return {count, '', diff, 0, {}} end
if count ~= (tonumber(size) or -1) + diff then return {count, size, diff, 0, {}} end
local parts = redis.call('ZRANGE', jkey, 0, -1)
redis.call('DEL', jkey, tkey, skey)
return {count, size, diff, 1, parts}
`,
);

/**
 * STORE_AND_PUBLISH for several keys in one call: the result writes a worker issues in one
 * event-loop turn (result-writes.ts). Each key is guarded and written on its own, with pcall, so
 * one key's error (WRONGTYPE, ...) fails that write alone. A written value is also published on
 * the key's notify channel when it has one (the sender's, see notify-channel.ts).
 *
 * KEYS: the keys; ARGV per key i: value, time to live in ms (0 = none), '1' to keep a stored
 * SUCCESS, a notify channel ('' = none). Returns per key 1 (written; or found stored exactly so,
 * a resent write whose first reply was lost, and published again), 0 (kept: another SUCCESS was
 * stored) or the error message.
 */
export const STORE_AND_PUBLISH_MANY = new LuaScript(
  'store-and-publish-many',
  `
local function failed(reply)
  return type(reply) == 'table' and reply['err']
end
local function store(key, value, ttl, guard, notify)
  if guard == '1' then
    local current = redis.pcall('GET', key)
    if failed(current) then return current['err'] end
    if current and string.find(current, 'SUCCESS', 1, true) then
      local ok, meta = pcall(cjson.decode, current)
      if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then
        if current ~= value then return 0 end
        -- This very write, stored by an earlier try whose reply was lost: told again.
        redis.call('PUBLISH', key, value)
        if notify ~= '' then redis.call('PUBLISH', notify, value) end
        return 1
      end
    end
  end
  local written
  if ttl <= 0 then
    written = redis.pcall('SET', key, value)
  elseif ttl % 1000 == 0 then
    written = redis.pcall('SETEX', key, ttl / 1000, value)
  else
    written = redis.pcall('PSETEX', key, ttl, value)
  end
  if failed(written) then return written['err'] end
  redis.call('PUBLISH', key, value)
  if notify ~= '' then redis.call('PUBLISH', notify, value) end
  return 1
end
local out = {}
for i = 1, #KEYS do
  out[i] = store(KEYS[i], ARGV[4 * i - 3], tonumber(ARGV[4 * i - 2]), ARGV[4 * i - 1], ARGV[4 * i])
end
return out
`,
);
