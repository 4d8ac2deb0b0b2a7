/**
 * The cluster side of a pod, assembled: registry, membership, ownership,
 * peer port and links, routing and re-following. With no Redis URL it runs
 * the same code on the in-process registry, as a cluster of one.
 */
import type { Logger } from 'pino';
import type { Delivery, Fanout } from '../../actors/fanout.js';
import type { Hub } from '../../actors/hub.js';
import type { LocalChannels } from '../../actors/router.js';
import type { Config } from '../config.js';
import type { ChannelClaim, ChannelClaims, PodInfo, Registry } from '../ports.js';
import { PeerLinks, PeerServer } from '../peer/index.js';
import { Follower, type FollowAgainReason } from './follower.js';
import { LocalRegistry } from './local-registry.js';
import { Membership } from './membership.js';
import { OwedTips } from './owed-tips.js';
import { Ownership } from './ownership.js';
import { Rebalancer } from './rebalancer.js';
import { forwardHandler } from './peer-handler.js';
import { RedisRegistry } from './redis-registry.js';
import { ClusterRouter } from './router.js';

const NONE: readonly string[] = Object.freeze([]);

export class Cluster implements ChannelClaims {
  readonly membership: Membership;
  readonly ownership: Ownership;
  private peerServer: PeerServer | null = null;
  private peers: PeerLinks | null = null;
  private router: ClusterRouter | null = null;
  private follower: Follower | null = null;
  private rebalancer: Rebalancer | null = null;
  private local: LocalChannels | null = null;
  private hub: Hub | null = null;
  // Deliveries a following pod missed (its link congested or down), re-announced until it hears.
  private readonly tips = new OwedTips((pod, tip) => this.peerServer?.push(pod, 'tip', tip) ?? false, {
    retryMs: 200,
    max: 100_000,
  });

  private constructor(
    private readonly cfg: Readonly<Config>,
    readonly registry: Registry,
    private readonly log: Logger,
  ) {
    this.membership = new Membership(
      registry,
      { leaseMs: cfg.leaseMs, checkEveryMs: cfg.membershipCheckMs },
      {
        changed: (live, gone) => this.changed(live, gone),
        lost: () => void this.local?.stopAll(),
        rejoined: () => this.follower?.rejoined(),
      },
      log.child({ component: 'membership' }),
    );
    this.ownership = new Ownership(registry, this.membership);
  }

  static async open(cfg: Readonly<Config>, log: Logger): Promise<Cluster> {
    let cluster: Cluster | null = null;
    // Connections closing under a stopping pod are expected, not worth a warning.
    const onError = (err: unknown) =>
      log[cluster?.stopping ? 'debug' : 'warn']({ err: (err as Error)?.message }, 'registry');
    const registry = cfg.redisUrl
      ? await RedisRegistry.open({ url: cfg.redisUrl, prefix: cfg.redisPrefix, onError })
      : new LocalRegistry({ onError });
    cluster = new Cluster(cfg, registry, log);
    return cluster;
  }

  private stopping = false;

  get self(): string {
    return this.cfg.podName;
  }

  /** Routes channel requests; valid once `bind` ran. */
  get channels(): ClusterRouter {
    if (!this.router) throw new Error('cluster not bound');
    return this.router;
  }

  /** Connects the cluster to this pod's channel actors and hub. */
  bind(local: LocalChannels, hub: Hub): void {
    this.local = local;
    this.hub = hub;
    this.router = new ClusterRouter(
      local,
      this.ownership,
      this.membership,
      () => this.peers,
      {
        maxHops: this.cfg.maxHops,
        forwardTimeoutMs: this.cfg.askTimeoutMs,
        // Twice the lease: a loaded pod may notice an expiry late; giving up early fails a request that would have succeeded.
        failoverMs: 2 * this.cfg.leaseMs + 2 * this.cfg.membershipCheckMs,
        checkEveryMs: this.cfg.membershipCheckMs,
      },
      this.log.child({ component: 'router' }),
    );
    // A catch-up leaves each connection three quarters of its outbound cap for live traffic.
    this.follower = new Follower(hub, this.router, () => this.self, this.log.child({ component: 'follower' }), undefined, Math.floor(this.cfg.maxOutboundBytes / 4));
    this.rebalancer = new Rebalancer(local, this.ownership, this.cfg.handoffPerSec, this.log.child({ component: 'rebalancer' }));
  }

  /** What the cluster side has done so far, for metrics. */
  stats(): { followAgain: ReadonlyMap<FollowAgainReason, number>; pushesDropped: number; owedTips: number; followed: number } {
    return {
      followAgain: this.follower?.counts ?? new Map(),
      pushesDropped: this.peerServer?.dropped ?? 0,
      owedTips: this.tips.pending,
      followed: this.hub?.channels().length ?? 0,
    };
  }

  /** Channels handed to other pods since start. */
  get handedOff(): number {
    return this.rebalancer?.handedOff ?? 0;
  }

  /**
   * Leaves the cluster for a drain: the lease and claims go first, so other
   * pods take the channels; then local channels stop (writes commit,
   * followers are told to move). Peer links stay up so this pod's remaining
   * clients are still served through the new owners until they move.
   */
  async leave(): Promise<void> {
    this.stopping = true;
    this.rebalancer?.stop();
    await this.membership.stop();
    await this.local?.stopAll();
  }

  /** Where deliveries go: this pod's hub, or the peer connection a following pod opened to us. */
  readonly fanout: Fanout = (pods, delivery) => {
    let missed: string[] | undefined;
    for (const pod of pods) {
      if (pod === this.self) this.hub?.apply(delivery, this.self);
      else if (!this.peerServer?.push(pod, 'deliver', delivery as unknown as Record<string, unknown>)) {
        (missed ??= []).push(pod);
        // 0: follow again from scratch (a lost move, a lost removal of a user's
        // follows, or a lost edit or delete, which the owner then re-sends).
        if (delivery.moved || delivery.dropUser !== undefined || delivery.amends !== undefined) this.tips.note(pod, delivery.channel, 0);
        else if (delivery.seq !== undefined) this.tips.note(pod, delivery.channel, delivery.seq);
      }
    }
    return missed ?? NONE;
  };

  /** An owner said it moved. */
  moved(channel: number): void {
    this.follower?.moved(channel);
  }

  /** Opens the peer port (with Redis), then joins the cluster advertising `clientPort`. */
  async start(clientPort: number): Promise<PodInfo> {
    const { cfg } = this;
    const host = cfg.advertiseHost ?? cfg.host;
    let peerAddress = `${host}:0`;
    if (cfg.redisUrl && this.local) {
      this.peerServer = await PeerServer.listen({
        host: cfg.host,
        port: cfg.peerPort,
        pod: cfg.podName,
        secret: cfg.clusterSecret!,
        handler: forwardHandler(this.local, this.membership),
        log: this.log.child({ component: 'peer-server' }),
      });
      peerAddress = `${host}:${this.peerServer.address.port}`;
    }
    const me = await this.membership.start({ id: cfg.podName, client: `${host}:${clientPort}`, peer: peerAddress });
    if (cfg.redisUrl) {
      this.peers = new PeerLinks({
        self: { pod: me.id, incarnation: me.incarnation },
        secret: cfg.clusterSecret!,
        log: this.log.child({ component: 'peer-links' }),
        requestTimeoutMs: cfg.askTimeoutMs,
        onPush: (_from, ev, payload) => {
          if (ev === 'deliver') this.hub?.apply(payload as unknown as Delivery, this.self);
          else if (ev === 'tip' && Number.isSafeInteger(payload.channel) && Number.isSafeInteger(payload.seq)) {
            this.follower?.tip(payload.channel as number, payload.seq as number);
          }
        },
        onUp: (pod) => this.follower?.linkUp(pod),
        onDown: (pod) => this.follower?.linkDown(pod),
      });
    }
    return me;
  }

  acquire(channel: number): Promise<ChannelClaim> {
    return this.ownership.acquire(channel);
  }

  release(channel: number): Promise<void> {
    return this.ownership.release(channel);
  }

  /** Addresses of the other live pods' client ports, for clients told to move. */
  otherPods(): string[] {
    return this.membership.pods.filter((p) => p.id !== this.self).map((p) => p.client);
  }

  /** Leaves the cluster (claims freed at once), then closes links and the registry. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.follower?.stop();
    this.tips.stop();
    this.rebalancer?.stop();
    await this.membership.stop();
    await this.peers?.closeAll();
    await this.peerServer?.close();
    await this.registry.close();
  }

  private changed(live: readonly PodInfo[], gone: readonly PodInfo[]): void {
    this.peers?.retain(live.filter((p) => p.id !== this.self));
    this.rebalancer?.scan();
    if (gone.length === 0) return;
    const liveIds = new Set(live.map((p) => p.id));
    // Gone under an old incarnation but registered again: a lease lost and regained.
    const rejoined = gone.filter((p) => liveIds.has(p.id)).map((p) => p.id);
    this.tips.forget(gone.filter((p) => !liveIds.has(p.id)).map((p) => p.id));
    this.local?.tellAll('podsGone', { pods: gone.map((p) => p.id), rejoined });
    this.follower?.podsGone(gone);
  }
}
