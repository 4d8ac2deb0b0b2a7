/**
 * The in-process registry: the embedded single-pod default, and the reference
 * the Redis registry is tested against. Same contract, including leases that
 * expire by time, so code that works here does not first meet expiry in
 * production. Every method runs to completion without awaiting, which makes
 * each one atomic the way a Lua script is in Redis.
 */
import type { ChannelClaim, PodInfo, Registry } from '../ports.js';
import { checkLeaseMs, LeaseLostError } from './lease.js';
import { watchLiveSet, type LiveSetWatch } from './live-set-watch.js';

export interface LocalRegistryOptions {
  /** ms since the epoch; injectable so tests can move time. Default Date.now. */
  now?: () => number;
  /** Where errors of the watch loop go (an onChange that throws). Default: ignored. */
  onError?: (err: unknown) => void;
}

interface Member {
  pod: PodInfo;
  expiresAt: number;
}

export class LocalRegistry implements Registry {
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly members = new Map<string, Member>();
  /** Survives deregister, so a restarted pod still gets a higher incarnation. */
  private readonly incarnations = new Map<string, number>();
  private readonly owners = new Map<number, ChannelClaim>();
  /** Survives release, so every grant on a channel carries a higher epoch. */
  private readonly epochs = new Map<number, number>();
  private readonly watches = new Set<LiveSetWatch>();
  private closed = false;

  constructor(options: LocalRegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
  }

  async register(pod: Omit<PodInfo, 'incarnation'>, leaseMs: number): Promise<PodInfo> {
    this.open();
    checkLeaseMs(leaseMs);
    const incarnation = (this.incarnations.get(pod.id) ?? 0) + 1;
    this.incarnations.set(pod.id, incarnation);
    const info: PodInfo = { id: pod.id, incarnation, client: pod.client, peer: pod.peer };
    this.members.set(pod.id, { pod: info, expiresAt: this.now() + leaseMs });
    this.pokeWatches();
    return { ...info };
  }

  async renew(pod: PodInfo, leaseMs: number): Promise<boolean> {
    this.open();
    checkLeaseMs(leaseMs);
    const member = this.liveMember(pod.id, pod.incarnation);
    if (!member) return false;
    member.expiresAt = this.now() + leaseMs;
    return true;
  }

  async deregister(pod: PodInfo): Promise<void> {
    this.open();
    const member = this.members.get(pod.id);
    // A newer incarnation under the same id is someone else's registration.
    if (!member || member.pod.incarnation !== pod.incarnation) return;
    this.members.delete(pod.id);
    for (const [channel, claim] of this.owners) {
      if (claim.pod === pod.id && claim.incarnation === pod.incarnation) this.owners.delete(channel);
    }
    this.pokeWatches();
  }

  async livePods(): Promise<PodInfo[]> {
    this.open();
    const live: PodInfo[] = [];
    for (const [id, member] of this.members) {
      if (this.isLive(member)) live.push({ ...member.pod });
      // An expired lease can never be renewed, so its entry is dead weight.
      else this.members.delete(id);
    }
    return live.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async watch(onChange: () => void, checkEveryMs: number): Promise<() => void> {
    this.open();
    const watch = await watchLiveSet(() => this.livePods(), onChange, checkEveryMs, this.onError);
    this.watches.add(watch);
    return () => {
      watch.stop();
      this.watches.delete(watch);
    };
  }

  async claim(channel: number, pod: PodInfo): Promise<{ granted: boolean; owner: ChannelClaim }> {
    this.open();
    if (!this.liveMember(pod.id, pod.incarnation)) throw new LeaseLostError(pod.id, pod.incarnation);
    const holder = this.liveOwner(channel);
    if (holder) return { granted: false, owner: { ...holder } };
    const epoch = (this.epochs.get(channel) ?? 0) + 1;
    this.epochs.set(channel, epoch);
    const claim: ChannelClaim = { pod: pod.id, incarnation: pod.incarnation, epoch };
    this.owners.set(channel, claim);
    return { granted: true, owner: { ...claim } };
  }

  async owner(channel: number): Promise<ChannelClaim | null> {
    this.open();
    const holder = this.liveOwner(channel);
    return holder ? { ...holder } : null;
  }

  async release(channel: number, pod: PodInfo): Promise<void> {
    this.open();
    const claim = this.owners.get(channel);
    if (claim && claim.pod === pod.id && claim.incarnation === pod.incarnation) this.owners.delete(channel);
  }

  /** Idempotent: several handles in one process may share this registry and each close it. */
  async close(): Promise<void> {
    this.closed = true;
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
  }

  private open(): void {
    if (this.closed) throw new Error('registry closed');
  }

  private isLive(member: Member): boolean {
    return this.now() < member.expiresAt;
  }

  private liveMember(id: string, incarnation: number): Member | null {
    const member = this.members.get(id);
    return member && member.pod.incarnation === incarnation && this.isLive(member) ? member : null;
  }

  /** The claim, if its pod still holds a live lease under the same incarnation. */
  private liveOwner(channel: number): ChannelClaim | null {
    const claim = this.owners.get(channel);
    if (!claim) return null;
    if (this.liveMember(claim.pod, claim.incarnation)) return claim;
    // Dropped lazily: an expired holder's claims are free, and nothing else would clear them.
    this.owners.delete(channel);
    return null;
  }

  private pokeWatches(): void {
    for (const watch of this.watches) watch.poke();
  }
}
