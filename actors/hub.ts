import { encodeFrame } from '../protocol/codec.js';
import type { Outlet } from '../runtime/ports.js';

interface Registered {
  outlet: Outlet;
  user: number;
  name: string;
}

/**
 * The pod's fan-out point: which local connections follow which channel, and
 * so which users are online in it. A delivery is encoded once and the same
 * bytes go to every subscriber. Kept outside channel actors so that an actor
 * can passivate or restart without losing its followers.
 */
export class Hub {
  private readonly conns = new Map<number, Registered>();
  private readonly subs = new Map<number, Set<number>>();

  register(outlet: Outlet, user: number, name: string): void {
    this.conns.set(outlet.id, { outlet, user, name });
  }

  /** Forgets a connection; returns the channels where its user went offline. */
  unregister(connId: number): number[] {
    const r = this.conns.get(connId);
    if (!r) return [];
    const wentOffline: number[] = [];
    for (const [ch, set] of this.subs) {
      if (set.has(connId) && this.unsubscribe(ch, connId)) wentOffline.push(ch);
    }
    this.conns.delete(connId);
    return wentOffline;
  }

  /** Subscribes a connection; returns true when its user was not yet online in the channel. */
  subscribe(channel: number, connId: number): boolean {
    const r = this.conns.get(connId);
    if (!r) return false;
    let set = this.subs.get(channel);
    if (!set) this.subs.set(channel, (set = new Set()));
    if (set.has(connId)) return false;
    const first = !this.isOnline(channel, r.user);
    set.add(connId);
    return first;
  }

  /** Unsubscribes a connection; returns true when that was its user's last one in the channel. */
  unsubscribe(channel: number, connId: number): boolean {
    const set = this.subs.get(channel);
    const r = this.conns.get(connId);
    if (!set || !set.delete(connId)) return false;
    if (set.size === 0) this.subs.delete(channel);
    return r !== undefined && !this.isOnline(channel, r.user);
  }

  /** Ends every subscription one user holds in a channel (after a kick). */
  dropUser(channel: number, user: number): void {
    const set = this.subs.get(channel);
    if (!set) return;
    for (const id of [...set]) if (this.conns.get(id)?.user === user) set.delete(id);
    if (set.size === 0) this.subs.delete(channel);
  }

  isOnline(channel: number, user: number): boolean {
    const set = this.subs.get(channel);
    if (!set) return false;
    for (const id of set) if (this.conns.get(id)?.user === user) return true;
    return false;
  }

  onlineUsers(channel: number): Set<number> {
    const out = new Set<number>();
    for (const id of this.subs.get(channel) ?? []) {
      const r = this.conns.get(id);
      if (r) out.add(r.user);
    }
    return out;
  }

  subscribers(channel: number): number {
    return this.subs.get(channel)?.size ?? 0;
  }

  /** Sends one event to every subscriber of a channel, optionally but one connection. */
  deliver(channel: number, event: object, exceptConn?: number): void {
    const set = this.subs.get(channel);
    if (!set || set.size === 0) return;
    const frame = encodeFrame(event);
    for (const id of set) {
      if (id === exceptConn) continue;
      const o = this.conns.get(id)?.outlet;
      if (o && !o.closed) o.write(frame);
    }
  }

  /** Sends one event to a single connection. */
  send(connId: number, event: object): void {
    const o = this.conns.get(connId)?.outlet;
    if (o && !o.closed) o.write(encodeFrame(event));
  }
}
