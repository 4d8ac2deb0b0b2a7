/**
 * Who owns which channel. Placement (rendezvous over the live pods) says who
 * should; the registry's claim says who does, with a fencing epoch that the
 * channel's activation raises in PostgreSQL.
 */
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { ChannelClaim, PodInfo, Registry } from '../ports.js';
import { preferredPod } from './placement.js';
import type { Membership } from './membership.js';

/** NOT_OWNER with a hint of where the channel is (or should be). */
export class NotOwnerError extends TertuliaError {
  readonly owner: string | null;
  constructor(channel: number, owner: string | null) {
    super(ErrorCode.NOT_OWNER, `channel ${channel} is ${owner ? `on ${owner}` : 'moving'}; retry`);
    this.owner = owner;
  }
}

export class Ownership {
  constructor(
    private readonly registry: Registry,
    private readonly membership: Membership,
  ) {}

  private get self(): PodInfo {
    return this.membership.self;
  }

  private mine(c: ChannelClaim | null): boolean {
    return c !== null && c.pod === this.self.id && c.incarnation === this.self.incarnation;
  }

  /**
   * Makes this pod the channel's owner and returns the claim to activate with,
   * or throws NotOwnerError naming the pod that owns or should own it.
   */
  async acquire(channel: number): Promise<ChannelClaim> {
    if (!this.membership.serving) throw new NotOwnerError(channel, null);
    const current = await this.registry.owner(channel);
    const preferred = preferredPod(channel, this.membership.pods);
    if (this.mine(current)) {
      // Still ours from before a handoff began: let the preferred pod have it
      // rather than activating here again and bouncing requests between us.
      if (preferred && preferred.id !== this.self.id) {
        await this.release(channel);
        throw new NotOwnerError(channel, preferred.id);
      }
      return current!;
    }
    if (current) throw new NotOwnerError(channel, current.pod);
    if (preferred && preferred.id !== this.self.id) throw new NotOwnerError(channel, preferred.id);
    const r = await this.registry.claim(channel, this.self);
    if (r.granted || this.mine(r.owner)) return r.owner;
    throw new NotOwnerError(channel, r.owner.pod);
  }

  /** Gives the channel up (passivation, handoff); a no-op if someone else holds it now. */
  async release(channel: number): Promise<void> {
    await this.registry.release(channel, this.self);
  }

  /** True when placement says this pod should own the channel. */
  preferredHere(channel: number): boolean {
    const preferred = preferredPod(channel, this.membership.pods);
    return preferred === null || preferred.id === this.self.id;
  }

  /** Where to send a channel's requests: its live holder, else the pod that should claim it. */
  async locate(channel: number): Promise<string | null> {
    const current = await this.registry.owner(channel);
    if (current) return current.pod;
    return preferredPod(channel, this.membership.pods)?.id ?? null;
  }
}
