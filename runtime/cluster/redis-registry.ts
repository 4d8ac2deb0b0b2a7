/**
 * The cluster registry on Redis. Keys, under a prefix (default "tertulia:"):
 *   pods               hash id → PodInfo JSON
 *   incarnation:{id}   counter, raised by every register
 *   lease:{id}         the incarnation holding the lease, with a PX TTL
 *   owner:{channel}    hash pod / incarnation / epoch
 *   epoch:{channel}    counter, raised by every grant
 *   membership         pub/sub channel: "register id" / "deregister id"
 * A pod's claims are live exactly as long as its lease key holds the claim's
 * incarnation, so expiry and deregister free them without touching each one.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { ChannelClaim, PodInfo, Registry } from '../ports.js';
import { checkLeaseMs, LeaseLostError } from './lease.js';
import { watchLiveSet, type LiveSetWatch } from './live-set-watch.js';
import { defineScripts, type RegistryScripts } from './redis-scripts.js';

export interface RedisRegistryOptions {
  /** redis://host:port/db */
  url: string;
  /** Default "tertulia:". */
  prefix?: string;
  /** Upper bound on any one call, queued or in flight. Default 1000 ms; keep it well below the lease. */
  commandTimeoutMs?: number;
  /** Upper bound on establishing a connection. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Connection errors and failed watch checks; expected during an outage. Default: ignored. */
  onError?: (err: unknown) => void;
}

/**
 * Why these settings: a registry answer is only useful while the lease it is
 * about still runs, so every call must end, with an error if need be, within
 * a bound the caller can plan a renew loop around.
 * - commandTimeout: a hung server (SIGSTOP, blackholed link) keeps the socket
 *   open, so neither reconnect logic nor queue limits would ever fire; only a
 *   per-command timer ends the wait.
 * - enableOfflineQueue false: while disconnected a call fails at once instead
 *   of waiting for a reconnect that may come after the lease ran out.
 * - maxRetriesPerRequest 0 and autoResendUnfulfilledCommands false: a command
 *   in flight when the socket dropped is failed, not replayed later behind the
 *   caller's back (a replayed claim could grant a channel nobody serves).
 *   Callers retry on their own schedule.
 * - retryStrategy: reconnect quickly (capped at 1 s, with jitter) so an outage
 *   shorter than a lease costs no channel.
 */
function connectionOptions(o: RedisRegistryOptions): RedisOptions {
  return {
    lazyConnect: true,
    commandTimeout: o.commandTimeoutMs ?? 1000,
    connectTimeout: o.connectTimeoutMs ?? 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000) + Math.floor(Math.random() * 100),
  };
}

/** Connects, or fails within connectTimeout and leaves no reconnect loop behind. */
async function connect(url: string, options: RedisOptions, onError: (err: unknown) => void): Promise<Redis> {
  const redis = new Redis(url, options);
  redis.on('error', onError);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    // Unreachable server: nothing left to flush.
  }
  redis.disconnect();
}

export class RedisRegistry implements Registry {
  private readonly scripts: RegistryScripts;
  private readonly watches = new Set<LiveSetWatch>();
  private subscriber: Promise<Redis> | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly redis: Redis,
    private readonly options: RedisRegistryOptions,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void,
  ) {
    this.scripts = defineScripts(redis);
  }

  static async open(options: RedisRegistryOptions): Promise<RedisRegistry> {
    const onError = options.onError ?? (() => {});
    const redis = await connect(options.url, connectionOptions(options), onError);
    return new RedisRegistry(redis, options, options.prefix ?? 'tertulia:', onError);
  }

  private key(...parts: (string | number)[]): string {
    return this.prefix + parts.join(':');
  }

  private get leasePrefix(): string {
    return this.key('lease', '');
  }

  async register(pod: Omit<PodInfo, 'incarnation'>, leaseMs: number): Promise<PodInfo> {
    checkLeaseMs(leaseMs);
    const json = JSON.stringify({ id: pod.id, client: pod.client, peer: pod.peer });
    const incarnation = await this.scripts.tertuliaRegister(
      this.key('incarnation', pod.id),
      this.key('lease', pod.id),
      this.key('pods'),
      leaseMs,
      pod.id,
      json,
      this.key('membership'),
    );
    return { id: pod.id, incarnation: Number(incarnation), client: pod.client, peer: pod.peer };
  }

  async renew(pod: PodInfo, leaseMs: number): Promise<boolean> {
    checkLeaseMs(leaseMs);
    return (await this.scripts.tertuliaRenew(this.key('lease', pod.id), pod.incarnation, leaseMs)) === 1;
  }

  async deregister(pod: PodInfo): Promise<void> {
    await this.scripts.tertuliaDeregister(this.key('lease', pod.id), this.key('pods'), pod.incarnation, pod.id, this.key('membership'));
  }

  async livePods(): Promise<PodInfo[]> {
    const entries = await this.scripts.tertuliaLivePods(this.key('pods'), this.leasePrefix);
    return entries.map(parsePod).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async watch(onChange: () => void, checkEveryMs: number): Promise<() => void> {
    if (this.closing) throw new Error('registry closed');
    // Subscribe before the watch takes its baseline, so no change falls between the two.
    await this.subscribe();
    const watch = await watchLiveSet(() => this.livePods(), onChange, checkEveryMs, this.onError);
    this.watches.add(watch);
    return () => {
      watch.stop();
      this.watches.delete(watch);
    };
  }

  async claim(channel: number, pod: PodInfo): Promise<{ granted: boolean; owner: ChannelClaim }> {
    const [status, holder, incarnation, epoch] = await this.scripts.tertuliaClaim(
      this.key('owner', channel),
      this.key('epoch', channel),
      this.key('lease', pod.id),
      this.leasePrefix,
      pod.id,
      pod.incarnation,
    );
    if (status === -1) throw new LeaseLostError(pod.id, pod.incarnation);
    return { granted: status === 1, owner: { pod: holder!, incarnation: Number(incarnation), epoch: Number(epoch) } };
  }

  async owner(channel: number): Promise<ChannelClaim | null> {
    const holder = await this.scripts.tertuliaOwner(this.key('owner', channel), this.leasePrefix);
    return holder ? { pod: holder[0], incarnation: Number(holder[1]), epoch: Number(holder[2]) } : null;
  }

  async release(channel: number, pod: PodInfo): Promise<void> {
    await this.scripts.tertuliaRelease(this.key('owner', channel), pod.id, pod.incarnation);
  }

  /** Stops every watch and closes both connections; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const watch of this.watches) watch.stop();
      this.watches.clear();
      const subscriber = await this.subscriber?.catch(() => null);
      await Promise.all([quit(this.redis), subscriber ? quit(subscriber) : Promise.resolve()]);
    })();
    return this.closing;
  }

  /** One dedicated subscriber connection, shared by every watch: a subscribed connection can run nothing else. */
  private subscribe(): Promise<Redis> {
    this.subscriber ??= (async () => {
      const subscriber = await connect(this.options.url, connectionOptions(this.options), this.onError);
      const channel = this.key('membership');
      subscriber.on('message', (from: string) => {
        if (from === channel) for (const watch of this.watches) watch.poke();
      });
      try {
        await subscriber.subscribe(channel);
      } catch (err) {
        subscriber.disconnect();
        throw err;
      }
      return subscriber;
    })().catch((err: unknown) => {
      // Let the next watch() try again rather than cache the failure.
      this.subscriber = null;
      throw err;
    });
    return this.subscriber;
  }
}

function parsePod(json: string): PodInfo {
  const p = JSON.parse(json) as PodInfo;
  return { id: String(p.id), incarnation: Number(p.incarnation), client: String(p.client), peer: String(p.peer) };
}
