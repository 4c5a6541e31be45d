/**
 * The Lua scripts of the Redis store. Each runs atomically on the Redis primary: nothing else
 * lands between its reads and its writes, which is what makes a lease's compare-and-delete and a
 * fenced write's check-then-write safe against a holder that lost its lease meanwhile.
 *
 * Keys of one lease: `lease` (the holder's token, `SET NX PX ttl`: Redis expires it by its own
 * clock), `fence` (a counter, `INCR`: never goes back, even once the lease is gone), `holder` (a
 * hash: the last holder's `fence`, `token` and whether it `released` — what tells the next one
 * how its predecessor ended).
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A script run by its SHA-1 (`EVALSHA`), sent whole once the server does not know it (a restart). */
export class Script {
  readonly #lua: string;
  readonly #sha: string;

  constructor(lua: string) {
    this.#lua = lua;
    this.#sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(client: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return client.eval(this.#lua, keys.length, ...keys, ...args);
    }
  }
}

/**
 * KEYS: lease, fence, holder. ARGV: token, ttl ms. Takes a free lease: `nil` when it is held,
 * else `{fence, previous fence, previous token, previous released}` ("" for a first holder).
 */
export const ACQUIRE = new Script(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local previous = redis.call('HMGET', KEYS[3], 'fence', 'token', 'released')
local fence = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[3], 'fence', fence, 'token', ARGV[1], 'released', '0')
return {fence, previous[1] or '', previous[2] or '', previous[3] or ''}
`);

/** KEYS: lease. ARGV: token, ttl ms. Extends the lease when it is still the token's: 1, else 0. */
export const RENEW = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/**
 * KEYS: lease, holder. ARGV: token. Compare-and-delete: frees the lease only when it is still the
 * token's (never another holder's), and records that it was released rather than left to expire.
 */
export const RELEASE = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], 'token') == ARGV[1] then
  redis.call('HSET', KEYS[2], 'released', '1')
end
return 1
`);

/**
 * KEYS: lease, holder, target. ARGV: token, fence, "set" or "del", value. Writes (or deletes)
 * the target only while the lease is the token's and its fence is the holder's: 1, else 0.
 */
export const FENCED_WRITE = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], 'fence') ~= ARGV[2] then return 0 end
if ARGV[3] == 'set' then
  redis.call('SET', KEYS[3], ARGV[4])
else
  redis.call('DEL', KEYS[3])
end
return 1
`);

/**
 * KEYS: circuit. ARGV: the version read, the new state (JSON). Compare-and-set: stores the state
 * only when nobody wrote since that version was read: 1, else 0 (the caller reads again).
 */
export const CIRCUIT_SET = new Script(`
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', tostring(tonumber(version) + 1), 'state', ARGV[2])
return 1
`);
