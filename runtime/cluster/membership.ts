/**
 * This pod's place in the cluster: it registers, renews its lease, follows
 * who else is live, and stops serving by itself when it cannot renew in time
 * (before the others may take its channels over).
 */
import type { Logger } from 'pino';
import type { PodInfo, Registry } from '../ports.js';

export interface MembershipOptions {
  leaseMs: number;
  checkEveryMs: number;
}

export interface MembershipEvents {
  /** The live set changed; `gone` are pods that were live and are not any more. */
  changed(live: readonly PodInfo[], gone: readonly PodInfo[]): void;
  /** This pod lost (or may have lost) its lease: stop serving channels now. */
  lost(): void;
  /** Registered again after a loss, with a new incarnation. */
  rejoined(self: PodInfo): void;
}

export class Membership {
  private me: PodInfo | null = null;
  private live: PodInfo[] = [];
  private lastRenewed = 0;
  private renewTimer: NodeJS.Timeout | null = null;
  private stopWatch: (() => void) | null = null;
  private lost = false;
  private stopped = false;
  private identity: Omit<PodInfo, 'incarnation'> | null = null;

  constructor(
    private readonly registry: Registry,
    private readonly opts: MembershipOptions,
    private readonly events: MembershipEvents,
    private readonly log: Logger,
  ) {}

  get self(): PodInfo {
    if (!this.me) throw new Error('membership not started');
    return this.me;
  }

  /** Live pods as last read, sorted by id; this pod included while its lease holds. */
  get pods(): readonly PodInfo[] {
    return this.live;
  }

  /** True while this pod may serve channels: its lease was renewed within leaseMs. */
  get serving(): boolean {
    return this.me !== null && !this.lost && !this.stopped && Date.now() - this.lastRenewed < this.opts.leaseMs;
  }

  /** Registers under `identity` (addresses known once the listeners are bound). */
  async start(identity: Omit<PodInfo, 'incarnation'>): Promise<PodInfo> {
    this.identity = identity;
    const askedAt = Date.now();
    this.me = await this.registry.register(identity, this.opts.leaseMs);
    this.lastRenewed = askedAt;
    this.live = await this.registry.livePods();
    this.stopWatch = await this.registry.watch(() => void this.refresh(), this.opts.checkEveryMs);
    this.scheduleRenew();
    this.log.info({ pod: this.me.id, incarnation: this.me.incarnation, live: this.live.map((p) => p.id) }, 'joined the cluster');
    return this.me;
  }

  /** Leaves the cluster: the lease and claims go at once, so others take over without waiting. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.stopWatch?.();
    if (this.me) await this.registry.deregister(this.me).catch((err) => this.log.warn({ err }, 'deregister failed'));
  }

  /** Re-reads the live set now (after a notification, or when a peer seems gone). */
  async refresh(): Promise<void> {
    if (this.stopped) return;
    let next: PodInfo[];
    try {
      next = await this.registry.livePods();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot read live pods');
      return;
    }
    const key = (p: PodInfo) => `${p.id}#${p.incarnation}`;
    const now = new Set(next.map(key));
    const gone = this.live.filter((p) => !now.has(key(p)));
    const before = new Set(this.live.map(key));
    const changed = gone.length > 0 || next.some((p) => !before.has(key(p)));
    this.live = next;
    if (changed) {
      this.log.info({ live: next.map(key), gone: gone.map(key) }, 'membership changed');
      this.events.changed(next, gone);
    }
  }

  private scheduleRenew(): void {
    if (this.stopped) return;
    // A third of the lease: two renewals may fail before it runs out.
    const period = Math.max(50, Math.floor(this.opts.leaseMs / 3));
    this.renewTimer = setTimeout(() => void this.renew(), period);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.me) return;
    // A pod that was frozen past its lease must not serve even one more request
    // on the strength of a renewal that has not happened yet.
    if (!this.lost && Date.now() - this.lastRenewed >= this.opts.leaseMs) this.loseLease('lease ran out before renewal');
    // The lease runs from when Redis set it, which is no later than when we
    // asked: counting from the reply would trust the lease past its expiry.
    const askedAt = Date.now();
    try {
      if (this.lost) {
        this.me = await this.registry.register(this.identity!, this.opts.leaseMs);
        this.lastRenewed = askedAt;
        this.lost = false;
        this.log.warn({ incarnation: this.me.incarnation }, 'rejoined the cluster');
        this.events.rejoined(this.me);
        await this.refresh();
      } else if (await this.registry.renew(this.me, this.opts.leaseMs)) {
        this.lastRenewed = askedAt;
      } else {
        this.loseLease('lease expired or taken over');
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'lease renewal failed');
      if (Date.now() - this.lastRenewed >= this.opts.leaseMs) this.loseLease('cannot reach the registry');
    } finally {
      this.scheduleRenew();
    }
  }

  private loseLease(why: string): void {
    if (this.lost) return;
    this.lost = true;
    this.log.error({ why }, 'lease lost: no longer serving channels');
    this.events.lost();
  }
}
