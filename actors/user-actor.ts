import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import type { ChannelInfo, Op, Requests, Results } from '../protocol/messages.js';
import { StoreError, type ChannelRecord, type Store, type UserChannelRecord, type UserRecord } from '../runtime/ports.js';
import { SerialActor, later, type Deferred } from './kernel.js';
import type { Hub } from './hub.js';
import type { Unfollow } from './fanout.js';
import type { ChannelRouter } from './router.js';
import type { Caller } from './channel/protocol.js';
import { TokenBucket } from './rate-limit.js';

export interface UserRequest {
  conn: number;
  op: Op;
  args: Requests[Op];
}

export interface UserProtocol {
  attach(a: { conn: number; name: string }): Record<string, never>;
  /** The connection is gone; the hub has already dropped it and says what it followed. */
  detach(a: { conn: number; unfollowed: Unfollow[] }): Record<string, never>;
  request(a: UserRequest): unknown;
}

/** Attachment transfers, shared by the pod's user actors. */
export interface UserFiles {
  upload(user: number, r: Requests['upload']): Promise<Results['upload']>;
  chunk(user: number, r: Requests['chunk']): Promise<Results['chunk']>;
  finish(user: number, r: Requests['finish']): Promise<Results['finish']>;
  download(user: number, r: Requests['download']): Promise<Results['download']>;
}

export interface UserDeps {
  store: Store;
  files: UserFiles;
  router: ChannelRouter;
  hub: Hub;
  /** This pod's id, for the owners of channels this user follows. */
  pod: string;
  log: Logger;
  limits: { sendRatePerSec: number; sendBurst: number; findMax: number };
  /** Called once the actor has no connections left and stopped. */
  stopped(): void;
}

const CHANNEL_OPS = new Set<Op>(['leave', 'send', 'edit', 'delete', 'history', 'read', 'who', 'typing']);

/**
 * One connected user: their connections, their subscriptions per connection,
 * and their send rate. Requests that go to a channel are forwarded without
 * holding this mailbox, so one user's slow channel never blocks their others.
 */
export class UserActor extends SerialActor<UserProtocol> {
  private readonly conns = new Map<number, Set<number>>();
  private readonly bucket: TokenBucket;

  // The name comes with the first attach, from the session that authenticated.
  private readonly user: UserRecord;

  constructor(
    id: number,
    private readonly deps: UserDeps,
  ) {
    super();
    this.user = { id, name: '' };
    this.bucket = new TokenBucket(deps.limits.sendRatePerSec, deps.limits.sendBurst);
  }

  override async onStop(): Promise<void> {
    this.deps.stopped();
  }

  attach(a: { conn: number; name: string }): Record<string, never> {
    this.user.name = a.name;
    if (!this.conns.has(a.conn)) this.conns.set(a.conn, new Set());
    return {};
  }

  detach(a: { conn: number; unfollowed: Unfollow[] }): Record<string, never> {
    this.conns.delete(a.conn);
    const caller = this.caller(a.conn);
    for (const u of a.unfollowed) this.tellOwner(caller, u);
    if (this.conns.size === 0) this.stopSelf();
    return {};
  }

  async request(a: UserRequest): Promise<unknown> {
    const caller = this.caller(a.conn);
    const { router, store } = this.deps;
    const args = a.args as Record<string, unknown>;
    if (CHANNEL_OPS.has(a.op)) {
      if (a.op === 'send') this.limitRate();
      const channel = args.channel as number;
      return later(router.ask(channel, a.op as 'send', { ...caller, ...(args as Requests['send']) }));
    }
    switch (a.op) {
      case 'subscribe':
        return this.subscribe(caller, a.args as Requests['subscribe']);
      case 'unsubscribe': {
        const channel = (a.args as Requests['unsubscribe']).channel;
        this.conns.get(a.conn)?.delete(channel);
        this.tellOwner(caller, this.deps.hub.unsubscribe(channel, a.conn));
        return {};
      }
      case 'join':
        return later(this.join(caller, a.args as Requests['join']));
      case 'invite':
      case 'kick': {
        const r = a.args as Requests['invite'];
        const target = await this.target(r.user);
        return later(router.ask(r.channel, a.op, { ...caller, target }));
      }
      case 'role': {
        const r = a.args as Requests['role'];
        const target = await this.target(r.user);
        return later(router.ask(r.channel, 'role', { ...caller, target, role: r.role }));
      }
      case 'create':
        return later(this.create(a.args as Requests['create']));
      case 'channels':
        return later(store.listForUser(this.user.id).then((rs) => ({ channels: rs.map(userChannelInfo) })));
      case 'find': {
        const r = a.args as Requests['find'];
        const limit = Math.min(r.limit ?? 20, this.deps.limits.findMax);
        return later(store.findPublic(r.prefix, limit).then((rs) => ({ channels: rs.map(channelInfo) })));
      }
      case 'direct':
        return later(this.direct(a.args as Requests['direct']));
      case 'upload':
        return later(this.deps.files.upload(this.user.id, a.args as Requests['upload']));
      case 'chunk':
        return later(this.deps.files.chunk(this.user.id, a.args as Requests['chunk']));
      case 'finish':
        return later(this.deps.files.finish(this.user.id, a.args as Requests['finish']));
      case 'download':
        return later(this.deps.files.download(this.user.id, a.args as Requests['download']));
      default:
        throw new TertuliaError(ErrorCode.UNKNOWN_OP, `unknown op "${a.op}"`);
    }
  }

  /**
   * Follows locally first (frames held), then asks the owner; on refusal the
   * local follow is undone. So nothing committed between the owner's answer
   * and the local follow can be missed.
   */
  private subscribe(caller: Caller, r: Requests['subscribe']): Deferred<unknown> {
    const { hub, router } = this.deps;
    const subs = this.conns.get(caller.conn);
    const { userFirst } = hub.subscribe(r.channel, caller.conn);
    const p = router.ask(r.channel, 'subscribe', { ...caller, ...r, userFirst });
    return later(
      p.then(
        (res) => {
          if (subs && this.conns.get(caller.conn) === subs) {
            subs.add(r.channel);
            hub.confirm(r.channel, caller.conn, res.lastSeq);
          } else {
            // The connection went while the owner answered.
            this.tellOwner(caller, hub.unsubscribe(r.channel, caller.conn));
          }
          return res;
        },
        (err: unknown) => {
          const u = hub.abandon(r.channel, caller.conn);
          // The owner never registered this follow; only the pod's own record may need undoing.
          if (!userFirst && u.podEmpty) this.tellOwner(caller, { ...u, userLeft: false });
          throw err;
        },
      ),
    );
  }

  /** Tells a channel's owner that this pod's following changed; best effort. */
  private tellOwner(caller: Caller, u: Unfollow): void {
    if (!u.userLeft && !u.podEmpty) return;
    this.deps.router.ask(u.channel, 'unsubscribe', { ...caller, userLeft: u.userLeft, podEmpty: u.podEmpty }).catch(() => {});
  }

  private async join(caller: Caller, r: Requests['join']): Promise<{ channel: ChannelInfo }> {
    let id = r.channel;
    if (id === undefined) {
      const rec = await this.deps.store.getChannelByName(r.name!);
      if (!rec) throw new TertuliaError(ErrorCode.NO_SUCH_CHANNEL, 'no such channel');
      id = rec.id;
    }
    return { channel: await this.deps.router.ask(id, 'join', caller) };
  }

  private async create(r: Requests['create']): Promise<{ channel: ChannelInfo }> {
    try {
      const rec = await this.deps.store.createChannel(r.name, r.kind, r.topic ?? '', this.user.id);
      return { channel: { ...channelInfo(rec), role: 'owner', lastReadSeq: 0, unread: 0 } };
    } catch (err) {
      if (err instanceof StoreError && err.kind === 'conflict') {
        throw new TertuliaError(ErrorCode.CHANNEL_EXISTS, `a channel named "${r.name}" exists`);
      }
      throw err;
    }
  }

  private async direct(r: Requests['direct']): Promise<{ channel: ChannelInfo }> {
    const target = await this.target(r.user);
    if (target.id === this.user.id) {
      throw new TertuliaError(ErrorCode.INVALID_FIELD, 'user: cannot open a direct channel with yourself');
    }
    const rec = await this.deps.store.openDirect(this.user.id, target.id);
    return { channel: { ...channelInfo(rec), role: 'member', peer: target.name } };
  }

  private async target(name: string): Promise<UserRecord> {
    const u = await this.deps.store.findUser(name);
    if (!u) throw new TertuliaError(ErrorCode.NO_SUCH_USER, `no user named "${name}"`);
    return u;
  }

  private limitRate(): void {
    const wait = this.bucket.take();
    if (wait > 0) throw new TertuliaError(ErrorCode.RATE_LIMITED, 'sending too fast', { retryMs: wait });
  }

  private caller(conn: number): Caller {
    return { user: this.user.id, name: this.user.name, conn, pod: this.deps.pod };
  }
}

function channelInfo(r: ChannelRecord): ChannelInfo {
  return { id: r.id, name: r.name, kind: r.kind, topic: r.topic, lastSeq: r.lastSeq };
}

function userChannelInfo(r: UserChannelRecord): ChannelInfo {
  const info: ChannelInfo = {
    ...channelInfo(r),
    role: r.role,
    lastReadSeq: r.lastReadSeq,
    unread: Math.max(0, r.lastSeq - r.lastReadSeq),
  };
  if (r.peer !== null) info.peer = r.peer;
  return info;
}
