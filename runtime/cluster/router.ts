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
import type { PeerLinks } from '../peer/index.js';
import type { Membership } from './membership.js';
import type { Ownership } from './ownership.js';

export interface ClusterRouterOptions {
  maxHops: number;
  /** Deadline of one forwarded request. */
  forwardTimeoutMs: number;
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
    for (let hop = 0; ; hop++) {
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
        if (hop + 1 >= this.opts.maxHops || !(await this.worthRetrying(err, target))) throw err;
        this.log.debug({ channel, target, hop, code: (err as TertuliaError).code }, 'rerouting');
        // Full jitter over a doubling window: the owner may be mid-activation.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(400, 25 * 2 ** hop)));
      }
    }
  }

  private async remote(target: string, channel: number, topic: string, arg: unknown): Promise<unknown> {
    const pod = this.membership.pods.find((p) => p.id === target);
    const peers = this.peers();
    if (!pod || !peers) throw new TertuliaError(ErrorCode.NOT_OWNER, `owner ${target} is not live`);
    return peers.link(pod).request('forward', { channel, topic, arg }, { timeoutMs: this.opts.forwardTimeoutMs });
  }

  /** NOT_OWNER always; a failed link only when its pod is no longer live (else the failure is real). */
  private async worthRetrying(err: unknown, target: string): Promise<boolean> {
    if (!(err instanceof TertuliaError)) return false;
    if (err.code === ErrorCode.NOT_OWNER) return true;
    if (target === this.membership.self.id) return false;
    if (err.code === ErrorCode.TIMEOUT || err.code === ErrorCode.BUSY) {
      await this.membership.refresh();
      return !this.membership.pods.some((p) => p.id === target);
    }
    return false;
  }
}
