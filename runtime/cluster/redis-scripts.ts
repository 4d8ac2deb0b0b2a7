/**
 * The registry's Lua scripts. Each decision that reads and then writes runs as
 * one script, so Redis executes it atomically and two pods can never both see
 * a channel as free.
 *
 * Some scripts build a pod's lease key from a prefix passed in ARGV (the
 * holder is only known once the owner hash is read). That is fine on a single
 * Redis primary (with or without replicas/Sentinel); it would not be on Redis
 * Cluster, where every key must be declared.
 */
import type { Redis } from 'ioredis';

/** register → incarnation. KEYS: incarnation:{id}, lease:{id}, pods. ARGV: leaseMs, id, pod JSON (no incarnation), membership channel. */
const REGISTER = `
local incarnation = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], incarnation, 'PX', ARGV[1])
local pod = cjson.decode(ARGV[3])
pod.incarnation = incarnation
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode(pod))
redis.call('PUBLISH', ARGV[4], 'register ' .. ARGV[2])
return incarnation
`;

/**
 * renew → 1 | 0. KEYS: lease:{id}. ARGV: incarnation, leaseMs.
 * Only extends a key that still holds this incarnation: a pod whose lease ran
 * out may already have been replaced, and must find out rather than re-take it.
 */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** deregister → 1 | 0. KEYS: lease:{id}, pods. ARGV: incarnation, id, membership channel. */
const DEREGISTER = `
local removed = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  removed = 1
end
local entry = redis.call('HGET', KEYS[2], ARGV[2])
if entry and cjson.decode(entry).incarnation == tonumber(ARGV[1]) then
  redis.call('HDEL', KEYS[2], ARGV[2])
  removed = 1
end
if removed == 1 then
  redis.call('PUBLISH', ARGV[3], 'deregister ' .. ARGV[2])
end
return removed
`;

/**
 * livePods → [pod JSON]. KEYS: pods. ARGV: lease key prefix.
 * Drops entries whose lease key is gone: such a lease can never be renewed,
 * and pod ids that left for good would otherwise accumulate.
 */
const LIVE_PODS = `
local entries = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #entries, 2 do
  local lease = redis.call('GET', ARGV[1] .. entries[i])
  if not lease then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif tonumber(lease) == cjson.decode(entries[i + 1]).incarnation then
    live[#live + 1] = entries[i + 1]
  end
end
return live
`;

/**
 * claim → {status, pod, incarnation, epoch}; status 1 granted, 0 held by a
 * live pod (the holder follows), -1 the claimant's own lease is gone.
 * KEYS: owner:{channel}, epoch:{channel}, lease:{claimant}. ARGV: lease key prefix, claimant id, incarnation.
 *
 * The epoch comes from INCR and restarts from 1 if Redis loses its data (a
 * failover to a replica that missed writes, a flushed instance). That is
 * acceptable: activation raises channels.owner_epoch in PostgreSQL to
 * GREATEST(owner_epoch + 1, claim epoch), and that value is the fencing token.
 * A Redis epoch that went backwards costs nothing; it is only a floor.
 */
const CLAIM = `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return {-1}
end
local holder = redis.call('HMGET', KEYS[1], 'pod', 'incarnation', 'epoch')
if holder[1] and redis.call('GET', ARGV[1] .. holder[1]) == holder[2] then
  return {0, holder[1], holder[2], holder[3]}
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'pod', ARGV[2], 'incarnation', ARGV[3], 'epoch', epoch)
return {1, ARGV[2], ARGV[3], tostring(epoch)}
`;

/** owner → {pod, incarnation, epoch} | nil. KEYS: owner:{channel}. ARGV: lease key prefix. */
const OWNER = `
local holder = redis.call('HMGET', KEYS[1], 'pod', 'incarnation', 'epoch')
if holder[1] and redis.call('GET', ARGV[1] .. holder[1]) == holder[2] then
  return holder
end
return false
`;

/** release → 1 | 0, compare-and-delete. KEYS: owner:{channel}. ARGV: id, incarnation. */
const RELEASE = `
local holder = redis.call('HMGET', KEYS[1], 'pod', 'incarnation')
if holder[1] == ARGV[1] and holder[2] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

type Str = string | number;
/** The scripts as typed calls (ioredis adds them untyped, under these names). */
export interface RegistryScripts {
  tertuliaRegister(incKey: string, leaseKey: string, podsKey: string, leaseMs: Str, id: string, podJson: string, channel: string): Promise<number>;
  tertuliaRenew(leaseKey: string, incarnation: Str, leaseMs: Str): Promise<number>;
  tertuliaDeregister(leaseKey: string, podsKey: string, incarnation: Str, id: string, channel: string): Promise<number>;
  tertuliaLivePods(podsKey: string, leasePrefix: string): Promise<string[]>;
  tertuliaClaim(ownerKey: string, epochKey: string, leaseKey: string, leasePrefix: string, id: string, incarnation: Str): Promise<[number, string?, string?, string?]>;
  tertuliaOwner(ownerKey: string, leasePrefix: string): Promise<[string, string, string] | null>;
  tertuliaRelease(ownerKey: string, id: string, incarnation: Str): Promise<number>;
}

const DEFINITIONS: Record<keyof RegistryScripts, { lua: string; numberOfKeys: number; readOnly?: boolean }> = {
  tertuliaRegister: { lua: REGISTER, numberOfKeys: 3 },
  tertuliaRenew: { lua: RENEW, numberOfKeys: 1 },
  tertuliaDeregister: { lua: DEREGISTER, numberOfKeys: 2 },
  tertuliaLivePods: { lua: LIVE_PODS, numberOfKeys: 1 },
  tertuliaClaim: { lua: CLAIM, numberOfKeys: 3 },
  tertuliaOwner: { lua: OWNER, numberOfKeys: 1, readOnly: true },
  tertuliaRelease: { lua: RELEASE, numberOfKeys: 1 },
};

/** Defines the scripts on `redis` (EVALSHA, falling back to EVAL once per script) and returns the typed view. */
export function defineScripts(redis: Redis): RegistryScripts {
  for (const [name, definition] of Object.entries(DEFINITIONS)) redis.defineCommand(name, definition);
  return redis as unknown as RegistryScripts;
}
