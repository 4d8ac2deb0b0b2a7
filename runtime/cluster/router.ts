/**
 * Sends each channel request to the pod that owns the channel: locally when
 * that is this pod, else over a peer link. Owners are cached; a "not owner"
 * answer or a lost owner drops the cache entry and the request is retried
 * against a fresh lookup, with jittered backoff and a bounded number of hops.
 */
import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { ChannelProtocol } from '../../actors/channel/protocol.js';
import type { Arg, Res, Topic } from '../../actors/kernel.js';
import type { ChannelRouter, LocalChannels } from '../../actors/router.js';
import { PeerLinkLostError, type PeerLinks } from '../peer/index.js';
import type { Membership } from './membership.js';
import type { Ownership } from './ownership.js';

export interface ClusterRouterOptions {
  maxHops: number;
  /** Deadline of one forwarded request. */
  forwardTimeoutMs: number;
  /** How long an unreachable owner may still be listed live: its lease plus a membership check. */
  failoverMs: number;
  /** Pause between looks at membership while waiting for an unreachable owner to expire. */
  checkEveryMs: number;
}

// Past this many cached owners the cache starts over: it only saves a lookup.
const OWNER_CACHE_MAX = 100_000;

export class ClusterRouter implements ChannelRouter {
  private readonly owners = new Map<number, string>();

  constructor(
    private readonly local: LocalChannels,
    private readonly ownership: Ownership,
    private readonly membership: Membership,
    private readonly peers: () => PeerLinks | null,
    private readonly opts: ClusterRouterOptions,
    private readonly log: Logger,
  ) {}

  /** The pod this pod last reached the channel at. */
  cachedOwner(channel: number): string | undefined {
    return this.owners.get(channel);
  }

  forget(channel: number): void {
    this.owners.delete(channel);
  }

  /** Drops cached owners that are among `pods`. */
  forgetPods(pods: Iterable<string>): void {
    const gone = new Set(pods);
    for (const [ch, pod] of this.owners) if (gone.has(pod)) this.owners.delete(ch);
  }

  async ask<K extends Topic<ChannelProtocol>>(
    channel: number,
    topic: K,
    arg: Arg<ChannelProtocol, K>,
  ): Promise<Res<ChannelProtocol, K>> {
    const self = this.membership.self.id;
    let hops = 0;
    let failoverUntil = 0;
    for (;;) {
      const target = this.owners.get(channel) ?? (await this.ownership.locate(channel)) ?? self;
      try {
        const result =
          target === self
            ? await this.local.ask(channel, topic, arg)
            : ((await this.remote(target, channel, topic, arg)) as Res<ChannelProtocol, K>);
        if (this.owners.size >= OWNER_CACHE_MAX) this.owners.clear();
        this.owners.set(channel, target);
        return result;
      } catch (err) {
        this.owners.delete(channel);
        if (target !== self && this.linkFailed(err, target)) {
          // The owner is unreachable but may still hold its lease: wait for it
          // to expire (then the channel is claimed elsewhere) rather than fail.
          failoverUntil ||= Date.now() + this.opts.failoverMs;
          if (Date.now() >= failoverUntil) throw err;
          await this.membership.refresh();
          if (this.membership.pods.some((p) => p.id === target)) await sleep(this.opts.checkEveryMs);
          continue;
        }
        if (!(err instanceof TertuliaError) || err.code !== ErrorCode.NOT_OWNER || ++hops >= this.opts.maxHops) throw err;
        this.log.debug({ channel, target, hops }, 'not the owner; rerouting');
        // Full jitter over a doubling window: the owner may be mid-activation.
        await sleep(Math.random() * Math.min(400, 25 * 2 ** hops));
      }
    }
  }

  /** The request did not get through to the target pod (as opposed to the pod refusing it). */
  private linkFailed(err: unknown, target: string): boolean {
    if (err instanceof PeerLinkLostError) return true;
    if (!(err instanceof TertuliaError)) return false;
    const link = this.peers()?.get(target);
    return (err.code === ErrorCode.BUSY || err.code === ErrorCode.TIMEOUT) && (link === undefined || link.state !== 'up');
  }

  private async remote(target: string, channel: number, topic: string, arg: unknown): Promise<unknown> {
    const pod = this.membership.pods.find((p) => p.id === target);
    const peers = this.peers();
    if (!pod || !peers) throw new TertuliaError(ErrorCode.NOT_OWNER, `owner ${target} is not live`);
    return peers.link(pod).request('forward', { channel, topic, arg }, { timeoutMs: this.opts.forwardTimeoutMs });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
