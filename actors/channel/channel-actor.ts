import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { AttachmentView, ChannelInfo, MessageView, Results, Role } from '../../protocol/messages.js';
import type { AttachmentLog, ChannelRecord, SnapshotSink, Store, WriteMetrics } from '../../runtime/ports.js';
import { channelView, committedView, toView } from './views.js';
import { Deferred, SerialActor, later } from '../kernel.js';
import { encodeFrame } from '../../protocol/codec.js';
import type { Fanout } from '../fanout.js';
import { Followers } from './followers.js';
import { HistoryRing } from './ring.js';
import { ChannelWriter, type Committed } from './writer.js';
import type { Caller, ChannelProtocol, FollowResult, HistoryArgs } from './protocol.js';

export interface ChannelLimits {
  historyPage: number;
  replayCap: number;
  ringSize: number;
  batchMax: number;
  pendingWritesCap: number;
  idleMs: number;
}

export interface ChannelDeps {
  store: Store;
  /** Looks up the attachments a send names. */
  attachments: Pick<AttachmentLog, 'postable'>;
  fanout: Fanout;
  log: Logger;
  metrics: WriteMetrics;
  /** Hears of commits, edits and deletes so history segments follow; optional. */
  snapshots?: SnapshotSink;
  limits: ChannelLimits;
  /** Called once the actor has stopped, so the router can forget it. */
  stopped(): void;
}

interface Member {
  name: string;
  role: Role;
}

const noSuchChannel = () => new TertuliaError(ErrorCode.NO_SUCH_CHANNEL, 'no such channel');
const forbidden = (why: string) => new TertuliaError(ErrorCode.FORBIDDEN, why);
const wrongKind = () => new TertuliaError(ErrorCode.WRONG_CHANNEL_KIND, 'not possible on a direct channel');

/**
 * One chat channel: its members, last seq, recent history and write pipeline.
 * Handlers run one at a time; sends are acknowledged only after their commit.
 */
export class ChannelActor extends SerialActor<ChannelProtocol> implements ChannelProtocolImpl {
  private rec!: ChannelRecord;
  private epoch = 0;
  private lastSeq = 0;
  private readonly members = new Map<number, Member>();
  private readonly followers: Followers;
  private readonly ring: HistoryRing;
  private readonly writer: ChannelWriter;
  private lastUse = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly id: number,
    private readonly deps: ChannelDeps,
    /** The registry's fencing epoch for this activation; owner_epoch rises to at least this. */
    private readonly claimEpoch = 0,
  ) {
    super();
    const { limits } = deps;
    this.ring = new HistoryRing(limits.ringSize);
    this.followers = new Followers(id, deps.fanout);
    this.writer = new ChannelWriter(
      deps.store,
      id,
      () => this.epoch,
      { batchMax: limits.batchMax, cap: limits.pendingWritesCap },
      {
        committed: (b) => this.onCommitted(b),
        edited: (seq, body, at) => this.onEdited(seq, body, at),
        deleted: (seq) => this.onDeleted(seq),
        fenced: () => {
          this.deps.log.warn({ channel: this.id, epoch: this.epoch }, 'write fenced: a newer owner holds the channel; deactivating');
          this.stopSelf();
        },
      },
      deps.metrics,
    );
  }

  override async onStart(): Promise<void> {
    const { store, limits } = this.deps;
    const rec = await store.getChannel(this.id);
    if (!rec) throw noSuchChannel();
    this.rec = rec;
    const act = await store.activate(this.id, this.claimEpoch);
    this.epoch = act.epoch;
    this.lastSeq = act.lastSeq;
    for (const m of await store.members(this.id)) this.members.set(m.userId, { name: m.name, role: m.role });
    if (limits.ringSize > 0 && this.lastSeq > 0) {
      this.ring.load((await store.history(this.id, { limit: limits.ringSize })).map(toView));
    }
    const period = Math.max(50, Math.floor(limits.idleMs / 2));
    this.idleTimer = setInterval(() => this.checkIdle(), period);
    this.idleTimer.unref();
    this.deps.log.debug({ channel: this.id, epoch: this.epoch, lastSeq: this.lastSeq }, 'channel activated');
  }

  override async onStop(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.deps.log.info({ channel: this.id, queued: this.writer.depth, followers: this.followers.size }, 'channel deactivating');
    await this.writer.drained();
    // Followers find the channel again wherever it is activated next.
    this.followers.moved();
    this.deps.snapshots?.closed(this.id);
    this.writer.close(new TertuliaError(ErrorCode.NOT_OWNER, 'channel deactivated; retry'));
    this.deps.stopped();
  }

  // ---- membership

  async join(a: Caller): Promise<ChannelInfo> {
    if (this.rec.kind === 'direct') throw wrongKind();
    if (this.members.has(a.user)) return this.describe(a.user);
    if (this.rec.kind !== 'public') throw noSuchChannel();
    await this.deps.store.putMember(this.id, a.user, 'member');
    this.members.set(a.user, { name: a.name, role: 'member' });
    this.memberEvent(a.user, a.name, 'joined', 'member');
    return this.describe(a.user);
  }

  async leave(a: Caller): Promise<Record<string, never>> {
    if (this.rec.kind === 'direct') throw wrongKind();
    const me = this.member(a);
    if (me.role === 'owner') throw forbidden('the owner cannot leave the channel');
    await this.deps.store.removeMember(this.id, a.user);
    this.members.delete(a.user);
    this.followers.forget(a.user);
    this.memberEvent(a.user, a.name, 'left', undefined, a.user);
    return {};
  }

  async invite(a: Caller & { target: { id: number; name: string } }): Promise<Record<string, never>> {
    if (this.rec.kind === 'direct') throw wrongKind();
    const me = this.member(a);
    if (this.rec.kind === 'private' && me.role === 'member') throw forbidden('only owners and admins may invite');
    if (this.members.has(a.target.id)) return {};
    await this.deps.store.putMember(this.id, a.target.id, 'member');
    this.members.set(a.target.id, { name: a.target.name, role: 'member' });
    this.memberEvent(a.target.id, a.target.name, 'invited', 'member');
    return {};
  }

  async kick(a: Caller & { target: { id: number; name: string } }): Promise<Record<string, never>> {
    if (this.rec.kind === 'direct') throw wrongKind();
    const me = this.member(a);
    const them = this.members.get(a.target.id);
    if (me.role === 'member') throw forbidden('only owners and admins may kick');
    if (!them) throw new TertuliaError(ErrorCode.NOT_MEMBER, `${a.target.name} is not a member`);
    if (them.role === 'owner' || (them.role === 'admin' && me.role !== 'owner')) {
      throw forbidden(`cannot kick ${a.target.name}`);
    }
    await this.deps.store.removeMember(this.id, a.target.id);
    this.members.delete(a.target.id);
    this.followers.forget(a.target.id);
    // The kicked user's connections get this event, then stop following.
    this.memberEvent(a.target.id, a.target.name, 'kicked', undefined, a.target.id);
    return {};
  }

  async role(
    a: Caller & { target: { id: number; name: string }; role: 'admin' | 'member' },
  ): Promise<Record<string, never>> {
    if (this.rec.kind === 'direct') throw wrongKind();
    if (this.member(a).role !== 'owner') throw forbidden('only the owner may change roles');
    const them = this.members.get(a.target.id);
    if (!them) throw new TertuliaError(ErrorCode.NOT_MEMBER, `${a.target.name} is not a member`);
    if (them.role === 'owner') throw forbidden('the owner keeps the owner role');
    await this.deps.store.putMember(this.id, a.target.id, a.role);
    them.role = a.role;
    this.memberEvent(a.target.id, a.target.name, 'role', a.role);
    return {};
  }

  // ---- messages

  send(a: Caller & { cmid: string; body: string; attachments?: string[] }): Deferred<Results['send']> {
    this.member(a);
    this.touch();
    const files = a.attachments ? this.postable(a.user, a.attachments) : undefined;
    return later(
      this.writer.append({ senderId: a.user, cmid: a.cmid, body: a.body }, a.name, files).then((o) =>
        o.duplicate ? { seq: o.seq, ts: o.ts, duplicate: true } : { seq: o.seq, ts: o.ts },
      ),
    );
  }

  async edit(a: Caller & { seq: number; body: string }): Promise<Deferred<Results['edit']>> {
    await this.authorOf(a, a.seq);
    return later(this.writer.edit(a.seq, a.body).then((edited) => ({ seq: a.seq, edited })));
  }

  async delete(a: Caller & { seq: number }): Promise<Deferred<Results['delete']>> {
    await this.authorOf(a, a.seq);
    return later(this.writer.remove(a.seq).then(() => ({ seq: a.seq })));
  }

  history(a: Caller & HistoryArgs): Results['history'] | Deferred<Results['history']> {
    this.visible(a);
    this.touch();
    const limit = Math.min(a.limit ?? 50, this.deps.limits.historyPage);
    const upTo = this.lastSeq;
    if (a.after !== undefined) {
      const hit = this.ring.after(a.after, upTo, limit);
      if (hit) return { messages: hit, more: (hit.at(-1)?.seq ?? a.after) < upTo };
      return later(this.load({ after: a.after, limit }).then((ms) => ({
        messages: ms,
        more: (ms.at(-1)?.seq ?? upTo) < upTo,
      })));
    }
    const before = Math.min(a.before ?? upTo + 1, upTo + 1);
    const hit = this.ring.before(before, limit);
    if (hit) return { messages: hit, more: (hit[0]?.seq ?? 1) > 1 };
    return later(this.load({ before, limit }).then((ms) => ({ messages: ms, more: (ms[0]?.seq ?? 1) > 1 })));
  }

  subscribe(a: Caller & { after?: number; userFirst: boolean }): Results['subscribe'] | Deferred<Results['subscribe']> {
    this.visible(a);
    this.member(a);
    this.touch();
    // Register before reading the replay: anything committed from now on is
    // delivered live, and the replay stops at the seq known at this instant.
    this.followers.addPod(a.pod);
    if (a.userFirst) this.followers.arrive(a);
    return this.replay(a.after);
  }

  follow(a: { pod: string; after?: number; users: { user: number; name: string }[] }): FollowResult | Deferred<FollowResult> {
    this.touch();
    this.followers.addPod(a.pod);
    // Users removed while the owner changed hands (or whose removal the pod
    // missed) are not brought back online, and the pod is told to drop them.
    const notMembers: number[] = [];
    for (const u of a.users) {
      if (this.members.has(u.user)) this.followers.arrive({ ...u, pod: a.pod });
      else notMembers.push(u.user);
    }
    const replay = this.replay(a.after);
    const owed = this.followers.takeAmends(a.pod);
    if (notMembers.length === 0 && owed.length === 0) return replay;
    // The edits and deletes the pod missed, as the messages are now; still owed if this fails.
    const amended = Promise.all(owed.map(async (seq) => this.ring.get(seq) ?? (await this.load({ after: seq - 1, limit: 1 })).find((m) => m.seq === seq)));
    amended.catch(() => this.followers.oweAmends(a.pod, owed));
    return later(Promise.all([replay instanceof Deferred ? replay.promise : replay, amended]).then(([r, ms]) => {
      const found = ms.filter((m): m is MessageView => m !== undefined).map((m) => ({ ...m }));
      return { ...r, ...(notMembers.length ? { notMembers } : {}), ...(found.length ? { amended: found } : {}) };
    }));
  }

  /** Messages after `after` up to the last seq known now, at most the replay cap. */
  private replay(after: number | undefined): Results['subscribe'] | Deferred<Results['subscribe']> {
    const upTo = this.lastSeq;
    const cap = this.deps.limits.replayCap;
    if (after === undefined || after >= upTo) return { lastSeq: upTo, messages: [], complete: true };
    const done = (ms: MessageView[]) => ({ lastSeq: upTo, messages: ms, complete: (ms.at(-1)?.seq ?? after) >= upTo });
    const hit = this.ring.after(after, upTo, cap);
    if (hit) return done(hit);
    return later(this.load({ after, limit: cap }).then((ms) => done(ms.filter((m) => m.seq <= upTo))));
  }

  unsubscribe(a: Caller & { userLeft: boolean; podEmpty: boolean }): Record<string, never> {
    if (a.userLeft) this.followers.depart(a);
    if (a.podEmpty) this.followers.removePod(a.pod);
    return {};
  }

  podsGone(a: { pods: string[]; rejoined?: string[] }): Record<string, never> {
    this.followers.podsGone(a.pods, (user) => this.members.get(user)?.name ?? '', a.rejoined);
    return {};
  }

  read(a: Caller & { seq: number }): Deferred<Results['read']> {
    this.member(a);
    const seq = Math.min(a.seq, this.lastSeq);
    return later(this.deps.store.markRead(this.id, a.user, seq).then((lastReadSeq) => ({ lastReadSeq })));
  }

  who(a: Caller): { members: { user: number; name: string; role: Role; online: boolean }[] } {
    this.visible(a);
    const members = [...this.members].map(([user, m]) => ({ user, name: m.name, role: m.role, online: this.followers.isOnline(user) }));
    return { members };
  }

  typing(a: Caller): Record<string, never> {
    this.member(a);
    this.followers.broadcast({ ev: 'typing', channel: this.id, user: a.user, name: a.name }, { exceptConn: a.conn, exceptPod: a.pod, ephemeral: true });
    return {};
  }

  // ---- internals

  /** Throws NO_SUCH_CHANNEL when the caller may not even know the channel exists. */
  private visible(a: Caller): void {
    if (this.rec.kind !== 'public' && !this.members.has(a.user)) throw noSuchChannel();
  }

  private member(a: Caller): Member {
    this.visible(a);
    const m = this.members.get(a.user);
    if (!m) throw new TertuliaError(ErrorCode.NOT_MEMBER, 'join the channel first');
    return m;
  }

  private async authorOf(a: Caller, seq: number): Promise<void> {
    this.member(a);
    const m = this.ring.get(seq) ?? (await this.deps.store.getMessage(this.id, seq).then((r) => (r ? toView(r) : undefined)));
    if (!m || m.deleted) throw new TertuliaError(ErrorCode.NO_SUCH_MESSAGE, `no message ${seq}`);
    if (m.sender !== a.user) throw new TertuliaError(ErrorCode.NOT_AUTHOR, 'only the author may change a message');
  }

  /** The sender's stored uploads named by a send, looked up while earlier sends commit. */
  private async postable(user: number, ids: string[]): Promise<AttachmentView[]> {
    const found = await this.deps.attachments.postable(user, ids);
    if (found.length !== ids.length) {
      const missing = ids.filter((id) => !found.some((f) => f.id === id));
      throw new TertuliaError(ErrorCode.NO_SUCH_ATTACHMENT, `no finished upload of yours with id ${missing.join(', ')}`);
    }
    return found;
  }

  private describe(user: number): ChannelInfo {
    return channelView(this.rec, this.lastSeq, this.members, user);
  }

  private async load(q: { before?: number; after?: number; limit: number }): Promise<MessageView[]> {
    return (await this.deps.store.history(this.id, q)).map(toView);
  }

  private onCommitted(batch: Committed[]): void {
    // One buffer for the whole batch: each follower gets one write per commit.
    const frames: Buffer[] = [];
    for (const c of batch) {
      const v = committedView(this.id, c);
      if (v.seq > this.lastSeq) this.lastSeq = v.seq;
      this.ring.push(v);
      frames.push(encodeFrame({ ev: 'msg', ...v }));
    }
    this.deps.snapshots?.committed(this.id, this.epoch, this.lastSeq);
    if (this.followers.size === 0) return;
    this.followers.deliver(frames.length === 1 ? frames[0]! : Buffer.concat(frames), this.lastSeq);
  }

  private onEdited(seq: number, body: string, at: number): void {
    const m = this.ring.get(seq);
    if (m) {
      m.body = body;
      m.edited = at;
    }
    this.deps.snapshots?.changed(this.id, this.epoch);
    this.followers.broadcast({ ev: 'edit', channel: this.id, seq, body, edited: at }, { amends: seq });
  }

  private onDeleted(seq: number): void {
    const m = this.ring.get(seq);
    if (m) {
      m.body = '';
      m.deleted = true;
      delete m.attachments;
    }
    this.deps.snapshots?.changed(this.id, this.epoch);
    this.followers.broadcast({ ev: 'delete', channel: this.id, seq }, { amends: seq });
  }

  private memberEvent(
    user: number,
    name: string,
    action: 'joined' | 'left' | 'invited' | 'kicked' | 'role',
    role?: Role,
    dropUser?: number,
  ): void {
    const ev: Record<string, unknown> = { ev: 'member', channel: this.id, user, name, action };
    if (role) ev.role = role;
    this.followers.broadcast(ev, dropUser === undefined ? {} : { dropUser });
  }

  private touch(): void {
    this.lastUse = Date.now();
  }

  private checkIdle(): void {
    if (this.followers.size > 0 || this.writer.depth > 0) return;
    if (Date.now() - this.lastUse < this.deps.limits.idleMs) return;
    this.stopSelf();
  }
}

type ChannelProtocolImpl = { [K in keyof ChannelProtocol]: unknown };
