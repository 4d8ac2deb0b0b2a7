import { encodeFrame } from '../../protocol/codec.js';
import type { Delivery, Fanout } from '../fanout.js';

/** A user on a pod, as presence sees them. */
export interface Present {
  user: number;
  name: string;
  pod: string;
  /** The connection that caused the change, spared its own presence event. */
  conn?: number;
}

// Edits and deletes remembered per pod that missed them; past this, the
// oldest are forgotten (the pod's clients see them when they read history).
const OWED_AMENDS_PER_POD = 1000;

/**
 * Who follows one channel: the pods to deliver to (one delivery each) and,
 * for presence, on which pods each user has a following connection.
 */
export class Followers {
  private readonly pods = new Set<string>();
  private readonly online = new Map<number, Set<string>>();
  /** Per pod, seqs of messages edited or deleted while a delivery to it was dropped. */
  private readonly owedAmends = new Map<string, Set<number>>();

  constructor(
    private readonly channel: number,
    private readonly fanout: Fanout,
  ) {}

  get size(): number {
    return this.pods.size;
  }

  isOnline(user: number): boolean {
    return this.online.has(user);
  }

  addPod(pod: string): void {
    this.pods.add(pod);
  }

  removePod(pod: string): void {
    this.pods.delete(pod);
  }

  /** The user follows from `p.pod`; announces them when they were offline everywhere. */
  arrive(p: Present): void {
    let where = this.online.get(p.user);
    if (!where) this.online.set(p.user, (where = new Set()));
    const wasOnline = where.size > 0;
    where.add(p.pod);
    if (!wasOnline) this.presence(p, true);
  }

  /** The user no longer follows from `p.pod`; announces them when that was their last pod. */
  depart(p: Present): void {
    const where = this.online.get(p.user);
    if (where?.delete(p.pod) && where.size === 0) {
      this.online.delete(p.user);
      this.presence(p, false);
    }
  }

  /** Forgets a user at once (left or kicked); no presence event, the member event says it. */
  forget(user: number): void {
    this.online.delete(user);
  }

  /**
   * Pods left the cluster: no more deliveries to them; their users go offline.
   * A pod in `rejoined` is back under a new incarnation: it is told, after it
   * was dropped here, to follow again if it still has followers.
   */
  podsGone(pods: string[], nameOf: (user: number) => string, rejoined: readonly string[] = []): void {
    const dropped = pods.filter((pod) => this.pods.delete(pod));
    for (const pod of pods) if (!rejoined.includes(pod)) this.owedAmends.delete(pod);
    const back = dropped.filter((pod) => rejoined.includes(pod));
    if (back.length > 0) this.fanout(back, { channel: this.channel, frame: Buffer.alloc(0), moved: true });
    for (const [user, where] of [...this.online]) {
      let changed = false;
      for (const pod of pods) changed = where.delete(pod) || changed;
      if (changed && where.size === 0) {
        this.online.delete(user);
        this.presence({ user, name: nameOf(user), pod: '' }, false);
      }
    }
  }

  /**
   * Encodes an event once and delivers it to every following pod. A pod that
   * missed a removal of a user's follows (kick, leave) gets nothing more from
   * here until it follows again, so the user sees nothing after the removal.
   * A pod that missed an edit or delete is owed the message's state, handed
   * over when it follows again.
   */
  broadcast(event: object, extra: Partial<Delivery> = {}): void {
    if (this.pods.size === 0) return;
    const missed = this.fanout(this.pods, { channel: this.channel, frame: encodeFrame(event), ...extra });
    if (extra.dropUser !== undefined) for (const pod of missed) this.pods.delete(pod);
    if (extra.amends !== undefined) for (const pod of missed) this.owe(pod, extra.amends);
  }

  /** The seqs edited or deleted that `pod` missed, forgotten here once taken. */
  takeAmends(pod: string): number[] {
    const seqs = this.owedAmends.get(pod);
    if (!seqs) return [];
    this.owedAmends.delete(pod);
    return [...seqs].sort((a, b) => a - b);
  }

  /** Delivers already encoded frames (a commit's messages) up to `seq`. */
  deliver(frame: Buffer, seq: number): void {
    if (this.pods.size > 0) this.fanout(this.pods, { channel: this.channel, frame, seq });
  }

  /** Tells every following pod the owner is going away. */
  moved(): void {
    if (this.pods.size > 0) this.fanout(this.pods, { channel: this.channel, frame: Buffer.alloc(0), moved: true });
  }

  /** `pod` is owed the state of these messages (again: a follow reply that would have carried them failed). */
  oweAmends(pod: string, seqs: Iterable<number>): void {
    for (const seq of seqs) this.owe(pod, seq);
  }

  private owe(pod: string, seq: number): void {
    let seqs = this.owedAmends.get(pod);
    if (!seqs) this.owedAmends.set(pod, (seqs = new Set()));
    seqs.delete(seq);
    seqs.add(seq);
    if (seqs.size > OWED_AMENDS_PER_POD) seqs.delete(seqs.values().next().value!);
  }

  private presence(p: Present, online: boolean): void {
    const ev = { ev: 'presence', channel: this.channel, user: p.user, name: p.name, online };
    this.broadcast(ev, p.pod && p.conn !== undefined ? { exceptConn: p.conn, exceptPod: p.pod, ephemeral: true } : { ephemeral: true });
  }
}
