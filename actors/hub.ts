import type { Outlet } from '../runtime/ports.js';
import type { Delivery, Unfollow } from './fanout.js';

interface Registered {
  outlet: Outlet;
  user: number;
  name: string;
}

interface Follower {
  /** Frames held while the owner has not yet confirmed the subscription; null once live. */
  held: Buffer[] | null;
  heldBytes: number;
  /**
   * Past the cap, the newest message frame, written after the held ones: the
   * client then sees a seq past its gap and fills the gap from history, where
   * dropping the tail too would leave it unaware that anything was missed.
   */
  heldTail: Buffer | null;
  /** Subscribe attempts still waiting for the owner (a client may resend one that timed out). */
  pending: number;
}

// A pending subscription holds at most this much (plus its newest message
// frame); past it the client's own gap detection fetches the rest from history.
const HELD_BYTES_CAP = 1024 * 1024;

/**
 * The pod's fan-out point: which local connections follow which channel. A
 * delivery arrives once per pod, already encoded, and the same bytes go to
 * every follower. A connection follows a channel from before the owner
 * confirms (frames are held meanwhile), so nothing committed in between is
 * missed. Kept outside channel actors so an owner can move or restart
 * without losing followers.
 */
export class Hub {
  private readonly conns = new Map<number, Registered>();
  private readonly subs = new Map<number, Map<number, Follower>>();
  private readonly lastSeqs = new Map<number, number>();

  /** `onMoved` hears of owners that went away while this pod follows their channel. */
  constructor(private readonly onMoved: (channel: number) => void = () => {}) {}

  register(outlet: Outlet, user: number, name: string): void {
    this.conns.set(outlet.id, { outlet, user, name });
  }

  /** Forgets a connection and everything it followed. */
  unregister(connId: number): Unfollow[] {
    if (!this.conns.has(connId)) return [];
    const out: Unfollow[] = [];
    for (const [ch, set] of this.subs) if (set.has(connId)) out.push(this.unsubscribe(ch, connId));
    this.conns.delete(connId);
    return out;
  }

  /** Starts following (held until confirm); `userFirst` when the user had no follower here yet. */
  subscribe(channel: number, connId: number): { userFirst: boolean } {
    const r = this.conns.get(connId);
    if (!r) return { userFirst: false };
    let set = this.subs.get(channel);
    if (!set) this.subs.set(channel, (set = new Map()));
    const f = set.get(connId);
    if (f) {
      f.pending++;
      return { userFirst: false };
    }
    const userFirst = !this.userFollows(channel, r.user);
    set.set(connId, { held: [], heldBytes: 0, heldTail: null, pending: 1 });
    return { userFirst };
  }

  /**
   * A subscribe attempt failed. The follow is undone only if no other attempt
   * is still waiting and none has succeeded: a resent subscribe that already
   * went live must not be undone by a stale one failing late.
   */
  abandon(channel: number, connId: number): Unfollow {
    const f = this.subs.get(channel)?.get(connId);
    if (f) f.pending = Math.max(0, f.pending - 1);
    if (!f || f.held === null || f.pending > 0) return { channel, userLeft: false, podEmpty: false };
    return this.unsubscribe(channel, connId);
  }

  /** The owner accepted as of `lastSeq`: write what was held and go live. */
  confirm(channel: number, connId: number, lastSeq: number): void {
    // Only a first follower sets the pod's resume point: for a pod already
    // following, deliveries up to `lastSeq` may still be on their way, and
    // claiming them would skip them if the owner died now.
    if (!this.lastSeqs.has(channel)) this.noteSeq(channel, lastSeq);
    const f = this.subs.get(channel)?.get(connId);
    if (!f) return;
    f.pending = Math.max(0, f.pending - 1);
    if (!f.held) return;
    const held = f.held;
    if (f.heldTail) held.push(f.heldTail);
    f.held = null;
    f.heldTail = null;
    const o = this.conns.get(connId)?.outlet;
    if (o && !o.closed) for (const b of held) o.write(b);
  }

  unsubscribe(channel: number, connId: number): Unfollow {
    const set = this.subs.get(channel);
    const r = this.conns.get(connId);
    if (!set || !set.delete(connId)) return { channel, userLeft: false, podEmpty: !set || set.size === 0 };
    if (set.size === 0) {
      this.subs.delete(channel);
      this.lastSeqs.delete(channel);
    }
    return { channel, userLeft: r !== undefined && !this.userFollows(channel, r.user), podEmpty: set.size === 0 };
  }

  /** Writes a delivery to the followers on this pod. */
  apply(d: Delivery, self: string): void {
    const set = this.subs.get(d.channel);
    if (!set) return;
    if (d.moved) {
      this.onMoved(d.channel);
      return;
    }
    if (d.seq !== undefined) this.noteSeq(d.channel, d.seq);
    const skip = d.exceptPod === self ? d.exceptConn : undefined;
    for (const [id, f] of set) {
      if (id === skip) continue;
      const r = this.conns.get(id);
      if (!r || r.outlet.closed) continue;
      if (f.held) {
        if (f.heldBytes + d.frame.length <= HELD_BYTES_CAP) {
          f.held.push(d.frame);
          f.heldBytes += d.frame.length;
        } else if (d.seq !== undefined) {
          f.heldTail = d.frame;
        }
      } else if (d.ephemeral) {
        r.outlet.writeEphemeral(d.frame);
      } else {
        r.outlet.write(d.frame);
      }
    }
    if (d.dropUser !== undefined) this.dropUsers(d.channel, [d.dropUser]);
  }

  /** Ends these users' follows of a channel on this pod (kicked, left, or no longer members). */
  dropUsers(channel: number, users: readonly number[]): void {
    const set = this.subs.get(channel);
    if (!set) return;
    for (const [id] of set) {
      const user = this.conns.get(id)?.user;
      if (user !== undefined && users.includes(user)) set.delete(id);
    }
    if (set.size === 0) {
      this.subs.delete(channel);
      this.lastSeqs.delete(channel);
    }
  }

  /** Highest seq delivered here for a channel: where to resume if its owner changes. */
  lastSeq(channel: number): number | undefined {
    return this.lastSeqs.get(channel);
  }

  /** Channels followed on this pod. */
  channels(): number[] {
    return [...this.subs.keys()];
  }

  /** The users following a channel on this pod, with their names. */
  users(channel: number): { user: number; name: string }[] {
    const out = new Map<number, string>();
    for (const id of this.subs.get(channel)?.keys() ?? []) {
      const r = this.conns.get(id);
      if (r) out.set(r.user, r.name);
    }
    return [...out].map(([user, name]) => ({ user, name }));
  }

  private noteSeq(channel: number, seq: number): void {
    if (this.subs.has(channel) && seq > (this.lastSeqs.get(channel) ?? 0)) this.lastSeqs.set(channel, seq);
  }

  followers(channel: number): number {
    return this.subs.get(channel)?.size ?? 0;
  }

  /** Sends one encoded frame to a single connection. */
  send(connId: number, frame: Buffer): void {
    const o = this.conns.get(connId)?.outlet;
    if (o && !o.closed) o.write(frame);
  }

  private userFollows(channel: number, user: number): boolean {
    const set = this.subs.get(channel);
    if (!set) return false;
    for (const id of set.keys()) if (this.conns.get(id)?.user === user) return true;
    return false;
  }
}
