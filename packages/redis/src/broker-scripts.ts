/**
 * The broker's Lua scripts. Each runs atomically on the server, which is the point: a message is
 * taken and recorded in `unacked` in one step (kombu's BRPOP then HSET can lose a message taken at
 * the instant Redis stops), and every move out of `unacked` checks that the entry is still the one
 * this process saw (a compare-and-set), so a message another consumer restored and took again is
 * never moved twice.
 *
 * Times come from the server's clock (TIME), so consumers on hosts with skewed clocks agree on
 * what the visibility timeout means. Dead-letter entries are JSON objects
 * `{queue, priority, at (epoch ms), reason: {code, message}, envelope | raw}` built here with cjson,
 * indexed by a sequence number (INCR) so they list in the order they were set aside.
 */
import { LuaScript } from './result-scripts.js';

/** Shared Lua: the server time as kombu writes it (epoch seconds with microseconds) and in ms. */
const NOW = `
local t = redis.call('TIME')
local now = string.format('%d.%06d', tonumber(t[1]), tonumber(t[2]))
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const ADD_DEAD_LETTER = `
local function add_dead_letter(hash, index, seq, id, queue, priority, code, message, envelope, raw)
  local entry = {queue = queue, priority = priority, at = now_ms, reason = {code = code, message = message}}
  if envelope then entry.envelope = envelope end
  if raw then entry.raw = raw end
  redis.call('HSET', hash, id, cjson.encode(entry))
  redis.call('ZADD', index, redis.call('INCR', seq), id)
end
`;

/** Shared Lua: ZREM + HDEL of ARGV[first..last], in slices that stay within Lua's stack. */
const ACK_TAGS = `
local function ack_tags(first, last)
  local removed = 0
  for i = first, last, 1000 do
    local j = math.min(i + 999, last)
    redis.call('ZREM', KEYS[2], unpack(ARGV, i, j))
    removed = removed + redis.call('HDEL', KEYS[1], unpack(ARGV, i, j))
  end
  return removed
end
`;

/**
 * Shared Lua: the delivery tag read off the envelope's text without decoding it (cjson.decode of a
 * whole envelope was most of the take's cost): the value of the last `"delivery_tag"` key, which
 * is `properties.delivery_tag` in every envelope kombu or celeriac writes (properties come last).
 * Nil when there is none or it is not a plain string (escapes): the caller then decodes.
 */
const QUICK_TAG = `
local function quick_tag(raw)
  local at, from = nil, 1
  while true do
    local _, e = string.find(raw, '"delivery_tag"', from, true)
    if not e then break end
    at, from = e, e + 1
  end
  if not at then return nil end
  return string.match(raw, '^%s*:%s*"([^"\\\\]+)"', at + 1)
end
`;

/**
 * Takes up to `limit` messages from a consumer's lists and records each in `unacked` /
 * `unacked_index` as kombu does (entry `[envelope, "", queue]`, score = now). Lists are served
 * by priority step first (all queues' bare lists, then all `␆␖3` lists, ...), queues round-robin
 * within a step: after each hit the queue that gave it moves to the back.
 *
 * An element that is not a JSON object with `properties.delivery_tag` cannot be recorded under
 * its tag; it goes straight to the dead letters (reason `bad-message:envelope-*`) instead of being
 * lost. The tag is read off the text (QUICK_TAG) and the element decoded only when that fails; an
 * element recorded that way but unusable all the same is dead-lettered by the caller, out of
 * `unacked` (taken-messages.ts).
 *
 * Before taking, it applies the acks this process has waiting (ACK_TAGS), so a consumer that
 * settles messages and asks for more needs one round trip for both.
 *
 * KEYS: unacked, unacked_index, dead letters, dead-letter index, dead-letter sequence, then for
 * queue i (1-based) and step s (1..4) the list at 5 + (i-1)*4 + s.
 * ARGV: limit, n (queues), dead-letter id prefix, a (acks), then a delivery tags to acknowledge,
 * then n queue names as JSON strings, then n plain queue names.
 * Returns {order, taken, dead, acked}: the queue order for the next call; taken = flat
 * (queue index, step index, tag, envelope); dead = flat (id, queue, code); acked = how many of
 * the acknowledged tags were still in `unacked`.
 */
export const TAKE = new LuaScript(
  'celeriac-broker-take',
  `${NOW}${ADD_DEAD_LETTER}${ACK_TAGS}${QUICK_TAG}
local limit = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local a = tonumber(ARGV[4])
local acked = ack_tags(5, 4 + a)
local names = 4 + a
local order = {}
for i = 1, n do order[i] = i end
local empty = {}
local taken, dead = {}, {}
local pops = 0
while pops < limit do
  local hit = false
  for s = 1, 4 do
    for pos = 1, #order do
      local i = order[pos]
      local k = 5 + (i - 1) * 4 + s
      if not empty[k] then
        local raw = redis.call('RPOP', KEYS[k])
        if raw then
          hit = true
          pops = pops + 1
          table.remove(order, pos)
          order[#order + 1] = i
          local code, message = nil, nil
          local tag = quick_tag(raw)
          local ok, env = true, nil
          if not tag then ok, env = pcall(cjson.decode, raw) end
          if tag then
            -- found without decoding (the common case)
          elseif not ok then
            code, message = 'bad-message:envelope-not-json', 'the envelope is not JSON: ' .. tostring(env)
          elseif type(env) ~= 'table' then
            code, message = 'bad-message:envelope-not-json', 'the envelope is not a JSON object'
          elseif type(env.properties) ~= 'table' then
            code, message = 'bad-message:envelope-no-properties', 'the envelope has no "properties" object'
          else
            tag = env.properties.delivery_tag
            if type(tag) ~= 'string' or tag == '' then
              code, message = 'bad-message:envelope-no-delivery-tag', 'the envelope has no properties.delivery_tag'
            end
          end
          if code then
            local id = ARGV[3] .. pops
            add_dead_letter(KEYS[3], KEYS[4], KEYS[5], id, ARGV[names + n + i], (s - 1) * 3, code, message, nil, raw)
            dead[#dead + 1] = id
            dead[#dead + 1] = ARGV[names + n + i]
            dead[#dead + 1] = code
          else
            redis.call('ZADD', KEYS[2], now, tag)
            redis.call('HSET', KEYS[1], tag, '[' .. raw .. ', "", ' .. ARGV[names + i] .. ']')
            taken[#taken + 1] = i
            taken[#taken + 1] = s
            taken[#taken + 1] = tag
            taken[#taken + 1] = raw
          end
          break
        end
        empty[k] = true
      end
    end
    if hit then break end
  end
  if not hit then break end
end
return {order, taken, dead, acked}
`,
);

/**
 * Acknowledges messages as kombu does (ZREM from `unacked_index`, HDEL from `unacked`), atomically.
 * KEYS: unacked, unacked_index. ARGV: delivery tags.
 * Returns how many of them were still in `unacked`.
 */
export const ACK = new LuaScript(
  'celeriac-broker-ack',
  `${ACK_TAGS}
return ack_tags(1, #ARGV)
`,
);

/**
 * Moves messages out of `unacked` back onto lists, each only if its entry is still exactly the
 * one expected. Serves reject-with-requeue (LPUSH: the back of the queue, as kombu), giving back
 * on close and the restore sweep (RPUSH: consumed next, as kombu's restore).
 *
 * KEYS: unacked, unacked_index, then one list per item. ARGV per item j: tag, expected entry
 * ('' = expect none: only the stale index entry is dropped), envelope to push, 'L' or 'R'.
 * Returns how many items were moved.
 */
export const MOVE_BACK = new LuaScript(
  'celeriac-broker-move-back',
  `
local moved = 0
for j = 1, #KEYS - 2 do
  local tag, expected, envelope, side = ARGV[4*j-3], ARGV[4*j-2], ARGV[4*j-1], ARGV[4*j]
  local stored = redis.call('HGET', KEYS[1], tag)
  if expected == '' then
    if not stored then redis.call('ZREM', KEYS[2], tag) end
  elseif stored == expected then
    if side == 'L' then redis.call('LPUSH', KEYS[2 + j], envelope) else redis.call('RPUSH', KEYS[2 + j], envelope) end
    redis.call('ZREM', KEYS[2], tag)
    redis.call('HDEL', KEYS[1], tag)
    moved = moved + 1
  end
end
return moved
`,
);

/**
 * Records messages that landed in a consumer's landing list (landing.ts) and were not settled in
 * the turn they arrived: each moves out of the landing list into `unacked` / `unacked_index`
 * (kombu's record, as TAKE writes it), only if it is still in the landing list (a compare-and-set
 * against the landing sweep).
 * KEYS: landing list, unacked, unacked_index. ARGV per item: element (exact), tag, entry.
 * Returns per item 1 (recorded, now or by an earlier try whose reply was lost) or 0 (gone: the
 * landing sweep gave it back to its queue).
 */
export const RECORD_LANDED = new LuaScript(
  'celeriac-broker-record-landed',
  `${NOW}
local out = {}
for j = 1, #ARGV, 3 do
  local raw, tag, entry = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  if redis.call('LREM', KEYS[1], 1, raw) == 1 then
    redis.call('ZADD', KEYS[3], now, tag)
    redis.call('HSET', KEYS[2], tag, entry)
    out[#out + 1] = 1
  elseif redis.call('HGET', KEYS[2], tag) == entry then
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`,
);

/**
 * Moves landed messages (landing.ts) back onto lists, each only if it is still in the landing
 * list: reject with requeue ('L', the back of the queue), giving back and the landing sweep ('R',
 * consumed next). With ARGV[1] '1', nothing moves while KEYS[2] exists (the sweep passes the
 * consumer's alive key: it may have come back since the sweep looked).
 * KEYS: landing list, the key that stops it (any key when ARGV[1] is '0'), then one list per item.
 * ARGV: '1' or '0', then per item: element (exact), text to push, 'L' or 'R'.
 * Returns how many moved, or -1 when stopped.
 */
export const RETURN_LANDED = new LuaScript(
  'celeriac-broker-return-landed',
  `
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local moved = 0
for j = 1, #KEYS - 2 do
  local raw, pushed, side = ARGV[3 * j - 1], ARGV[3 * j], ARGV[3 * j + 1]
  if redis.call('LREM', KEYS[1], 1, raw) == 1 then
    if side == 'L' then redis.call('LPUSH', KEYS[2 + j], pushed) else redis.call('RPUSH', KEYS[2 + j], pushed) end
    moved = moved + 1
  end
end
return moved
`,
);

/**
 * Moves one landed message (landing.ts) to the dead letters if it is still in the landing list.
 * KEYS: landing list, dead letters, dead-letter index, dead-letter sequence.
 * ARGV: element (exact), id, queue, priority, code, message, '1' to keep it as `envelope` (it is
 * one, if unusable) or '0' as `raw`.
 * Returns 1 when moved, 0 when it had left the landing list.
 */
export const DEAD_LETTER_LANDED = new LuaScript(
  'celeriac-broker-dead-letter-landed',
  `${NOW}${ADD_DEAD_LETTER}
if redis.call('LREM', KEYS[1], 1, ARGV[1]) ~= 1 then return 0 end
local envelope, raw = nil, nil
if ARGV[7] == '1' then envelope = ARGV[1] else raw = ARGV[1] end
add_dead_letter(KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], envelope, raw)
return 1
`,
);

/**
 * Drops a landing list's member from `celeriac.landings` (landing.ts) when the list is empty and,
 * unless ARGV[2] is 'own' (its consumer leaving), its consumer is no longer alive.
 * KEYS: landings set, the consumer's alive key, landing list. ARGV: member, 'own' or 'sweep'.
 * Returns 1 when dropped.
 */
export const FORGET_LANDING = new LuaScript(
  'celeriac-broker-forget-landing',
  `
if ARGV[2] ~= 'own' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('LLEN', KEYS[3]) > 0 then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
return 1
`,
);

/**
 * Moves one message from `unacked` to the dead letters if its entry is still the expected one.
 * KEYS: unacked, unacked_index, dead letters, dead-letter index, dead-letter sequence.
 * ARGV: tag, expected entry, id, queue, priority, code, message, envelope.
 * Returns 1 when moved, 0 when the entry had changed (another consumer has the message).
 */
export const DEAD_LETTER = new LuaScript(
  'celeriac-broker-dead-letter',
  `${NOW}${ADD_DEAD_LETTER}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
add_dead_letter(KEYS[3], KEYS[4], KEYS[5], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8], nil)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`,
);

/**
 * Puts a dead letter back on a list if it is still the expected entry.
 * KEYS: dead letters, dead-letter index, list. ARGV: id, expected entry, envelope.
 */
export const REPLAY = new LuaScript(
  'celeriac-broker-replay',
  `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`,
);

/**
 * Refreshes the `unacked_index` score of messages this process still holds (only those still
 * there: ZADD XX), so the restore sweep of any consumer leaves them alone.
 * KEYS: unacked_index. ARGV: tags.
 */
export const RENEW = new LuaScript(
  'celeriac-broker-renew',
  `${NOW}
local args = {}
for j = 1, #ARGV do
  args[#args + 1] = now
  args[#args + 1] = ARGV[j]
end
if #args == 0 then return 0 end
return redis.call('ZADD', KEYS[1], 'XX', unpack(args))
`,
);

/**
 * Starts a restore sweep as kombu does: takes `unacked_mutex` (SET NX PX) or gives up, then
 * lists up to `limit` tags whose score is older than the visibility timeout, with their entries.
 * KEYS: unacked_index, unacked, unacked_mutex. ARGV: visibility timeout (s), limit, token, mutex ms.
 * Returns false when another party holds the mutex, else flat (tag, entry or '').
 */
export const LIST_EXPIRED = new LuaScript(
  'celeriac-broker-list-expired',
  `${NOW}
if not redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[4]) then return false end
local ceil = string.format('%.6f', tonumber(now) - tonumber(ARGV[1]))
local tags = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ceil, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, tag in ipairs(tags) do
  out[#out + 1] = tag
  out[#out + 1] = redis.call('HGET', KEYS[2], tag) or ''
end
return out
`,
);

/** Releases a mutex only if it still holds our token. KEYS: mutex. ARGV: token. */
export const RELEASE_MUTEX = new LuaScript(
  'celeriac-broker-release-mutex',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);
