/**
 * Keeps this pod following the channels its connections follow when their
 * owner changes: after an owner pod dies, a link comes back, or an owner says
 * it moved, the pod follows the channel again at its new owner from the last
 * seq it delivered, and the new owner replays the gap (up to a byte budget,
 * then only the newest message: clients fill a longer gap from history).
 * Clients dedupe by seq, so replaying a little too much is harmless; missing
 * something is not.
 *
 * It also follows again when owners may have dropped this pod: after it lost
 * its lease and registered anew (owners forget a pod whose lease ran out), and
 * when an owner says deliveries to this pod were dropped (a `tip` past what
 * the pod delivered). A trigger that arrives while the channel is being
 * followed again runs once more afterwards, so none is lost.
 */
import type { Logger } from 'pino';
import { encodeFrame } from '../../protocol/codec.js';
import type { MessageView } from '../../protocol/messages.js';
import type { Hub } from '../../actors/hub.js';
import type { PodInfo } from '../ports.js';
import type { ClusterRouter } from './router.js';

// Failed attempts after which a warning is logged; the pod keeps trying for as
// long as a connection here follows the channel, since giving up would leave
// them without deliveries for good.
const ATTEMPTS_BEFORE_WARNING = 20;

// Bytes of a gap pushed by default: a quarter of the default outbound cap per connection.
const CATCH_UP_PUSH_BYTES = 1024 * 1024;

/** Why a pod follows a channel again. */
export type FollowAgainReason = 'owner_gone' | 'link_up' | 'moved' | 'rejoined' | 'tip';

export class Follower {
  private readonly inflight = new Set<number>();
  private readonly again = new Set<number>();
  private readonly wasDown = new Set<string>();
  private stopped = false;
  /** Channels followed again since start, by reason (for metrics). */
  readonly counts = new Map<FollowAgainReason, number>();

  constructor(
    private readonly hub: Hub,
    private readonly router: Pick<ClusterRouter, 'ask' | 'forget' | 'forgetPods' | 'cachedOwner'>,
    private readonly self: () => string,
    private readonly log: Logger,
    /** Backoff between attempts: half to all of a window doubling from `baseMs` up to `maxMs`. */
    private readonly retry = { baseMs: 50, maxMs: 2000 },
    /** Bytes of a gap pushed to the followers here; past it, only the newest message. */
    private readonly pushBytes = CATCH_UP_PUSH_BYTES,
  ) {}

  stop(): void {
    this.stopped = true;
  }

  /** Pods left the cluster: follow again every channel they owned (or whose owner is unknown). */
  podsGone(gone: readonly PodInfo[]): void {
    const ids = new Set(gone.map((p) => p.id));
    for (const ch of this.hub.channels()) {
      const owner = this.router.cachedOwner(ch);
      if (owner === undefined || ids.has(owner)) this.followAgain('owner_gone', ch);
    }
    this.router.forgetPods(ids);
  }

  linkDown(pod: PodInfo): void {
    this.wasDown.add(pod.id);
  }

  /** A link came back: its pod may have restarted and forgotten that we follow. */
  linkUp(pod: PodInfo): void {
    if (!this.wasDown.delete(pod.id)) return;
    for (const ch of this.hub.channels()) if (this.router.cachedOwner(ch) === pod.id) this.followAgain('link_up', ch);
  }

  /** This pod registered again after losing its lease: owners have dropped it as a follower. */
  rejoined(): void {
    for (const ch of this.hub.channels()) this.followAgain('rejoined', ch);
  }

  /** An owner could not deliver to this pod up to `seq` (0: its notice that it moved). */
  tip(channel: number, seq: number): void {
    if (seq === 0) this.moved(channel);
    else if ((this.hub.lastSeq(channel) ?? 0) < seq) this.followAgain('tip', channel);
  }

  moved(channel: number): void {
    this.router.forget(channel);
    setTimeout(() => this.followAgain('moved', channel), 20 + Math.random() * 80).unref();
  }

  private followAgain(reason: FollowAgainReason, channel: number): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    void this.refollow(channel);
  }

  /** Follows `channel` again wherever it is owned now and delivers what was missed. */
  async refollow(channel: number): Promise<void> {
    if (this.inflight.has(channel)) {
      // The owner may have changed again since this catch-up asked: ask once more after it.
      this.again.add(channel);
      return;
    }
    this.inflight.add(channel);
    try {
      do {
        this.again.delete(channel);
        await this.followOnce(channel);
      } while (this.again.has(channel) && !this.stopped);
    } finally {
      this.inflight.delete(channel);
      this.again.delete(channel);
    }
  }

  private async followOnce(channel: number): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const users = this.hub.users(channel);
      if (users.length === 0) return;
      try {
        await this.catchUp(channel, users);
        if (attempt >= ATTEMPTS_BEFORE_WARNING) this.log.warn({ channel, attempts: attempt + 1 }, 'following the channel again');
        return;
      } catch (err) {
        const log = attempt === ATTEMPTS_BEFORE_WARNING ? 'warn' : 'debug';
        this.log[log]({ channel, attempt, err: (err as Error).message }, 'follow again failed; retrying');
        this.router.forget(channel);
        const window = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** Math.min(attempt, 20));
        await new Promise((r) => setTimeout(r, window * (0.5 + Math.random() / 2)));
      }
    }
  }

  private async catchUp(channel: number, users: { user: number; name: string }[]): Promise<void> {
    const pod = this.self();
    const after = this.hub.lastSeq(channel);
    const res = await this.router.ask(channel, 'follow', { pod, users, ...(after === undefined ? {} : { after }) });
    // Removed while this pod was not listening (a kick it missed): they see nothing more.
    if (res.notMembers?.length) this.hub.dropUsers(channel, res.notMembers);
    // Edits and deletes whose delivery was dropped: their events now.
    if (res.amended?.length) this.hub.apply({ channel, frame: Buffer.concat(res.amended.map(amendment)) }, pod);
    let pushed = this.deliver(channel, res.messages);
    let complete = res.complete;
    let last = res.messages.at(-1)?.seq ?? after ?? res.lastSeq;
    // Any follower still a member opens the history of a private channel.
    const member = users.find((u) => !res.notMembers?.includes(u.user));
    if (!member) return;
    const reader = { ...member, conn: 0, pod };
    while (!complete && last < res.lastSeq && pushed < this.pushBytes) {
      const page = await this.router.ask(channel, 'history', { ...reader, after: last, limit: 200 });
      pushed += this.deliver(channel, page.messages.filter((m) => m.seq <= res.lastSeq));
      if (page.messages.length === 0) break;
      last = page.messages.at(-1)!.seq;
      complete = last >= res.lastSeq;
    }
    if (complete || last >= res.lastSeq) return;
    // A long gap is not pushed whole: every connection here would get it at
    // once, past its outbound cap, and be dropped as a slow consumer. The
    // newest message shows each client the gap, which it fills from history
    // at the pace it reads.
    const newest = await this.router.ask(channel, 'history', { ...reader, before: res.lastSeq + 1, limit: 1 });
    this.deliver(channel, newest.messages);
  }

  /** Pushes messages to the followers here as one frame; returns its size. */
  private deliver(channel: number, messages: MessageView[]): number {
    if (messages.length === 0) return 0;
    const frame = Buffer.concat(messages.map((m) => encodeFrame({ ev: 'msg', ...m })));
    this.hub.apply({ channel, frame, seq: messages.at(-1)!.seq }, this.self());
    return frame.length;
  }
}

/** The event a message's current state stands for: its delete, or its edit. */
function amendment(m: MessageView): Buffer {
  return encodeFrame(m.deleted ? { ev: 'delete', channel: m.channel, seq: m.seq } : { ev: 'edit', channel: m.channel, seq: m.seq, body: m.body, edited: m.edited ?? m.ts });
}
