/**
 * TertuliaClient: the public client. One method per protocol operation on top
 * of the lifecycle in core.ts, plus subscribe with ordered, gap-free delivery.
 */
import { randomBytes } from 'node:crypto';
import type { Results } from '../messages.js';
import { ClientCore } from './core.js';
import type { ClientOptions, RequestOptions } from './types.js';

/** Result of send: the server's reply plus the cmid used, so the caller can match its own echo. */
export type SendResult = Results['send'] & { cmid: string };

/** A fresh client message id: 16 base64url characters from 96 random bits. */
export function newCmid(): string {
  return randomBytes(12).toString('base64url');
}

/** A Tertulia client over one TCP connection that reconnects and resumes by itself. */
export class TertuliaClient extends ClientCore {
  /** Creates a client; nothing happens until connect(). */
  constructor(options: ClientOptions) {
    super(options);
  }

  /** Creates a user and authenticates as it; the token is kept for resume. */
  register(name: string, password: string, opts?: RequestOptions): Promise<Results['register']> {
    return this.request('register', { name, password }, opts);
  }

  /** Authenticates with a password; the token is kept for resume. */
  login(name: string, password: string, opts?: RequestOptions): Promise<Results['login']> {
    return this.request('login', { name, password }, opts);
  }

  /** Authenticates with a token from an earlier login. */
  auth(token: string, opts?: RequestOptions): Promise<Results['auth']> {
    return this.request('auth', { token }, opts);
  }

  /** Revokes the token; the connection becomes unauthenticated and subscriptions are forgotten. */
  logout(opts?: RequestOptions): Promise<Results['logout']> {
    return this.request('logout', {}, opts);
  }

  /** Creates a channel owned by the caller. */
  create(name: string, kind: 'public' | 'private', topic?: string, opts?: RequestOptions): Promise<Results['create']> {
    return this.request('create', topic === undefined ? { name, kind } : { name, kind, topic }, opts);
  }

  /** Joins a channel by id (number) or name (string). */
  join(channel: number | string, opts?: RequestOptions): Promise<Results['join']> {
    return this.request('join', typeof channel === 'number' ? { channel } : { name: channel }, opts);
  }

  /** Leaves a channel. */
  async leave(channel: number, opts?: RequestOptions): Promise<Results['leave']> {
    const r = await this.request('leave', { channel }, opts);
    this.subscriptions.forget(channel);
    return r;
  }

  /** Makes a user a member of a channel. */
  invite(channel: number, user: string, opts?: RequestOptions): Promise<Results['invite']> {
    return this.request('invite', { channel, user }, opts);
  }

  /** Removes a user from a channel. */
  kick(channel: number, user: string, opts?: RequestOptions): Promise<Results['kick']> {
    return this.request('kick', { channel, user }, opts);
  }

  /** Sets a member's role (owner only). */
  setRole(channel: number, user: string, role: 'admin' | 'member', opts?: RequestOptions): Promise<Results['role']> {
    return this.request('role', { channel, user, role }, opts);
  }

  /** The caller's channels with unread counts. */
  channels(opts?: RequestOptions): Promise<Results['channels']> {
    return this.request('channels', {}, opts);
  }

  /** Public channels whose name starts with `prefix`. */
  find(prefix: string, limit?: number, opts?: RequestOptions): Promise<Results['find']> {
    return this.request('find', limit === undefined ? { prefix } : { prefix, limit }, opts);
  }

  /** The direct channel with a user, created on first use. */
  direct(user: string, opts?: RequestOptions): Promise<Results['direct']> {
    return this.request('direct', { user }, opts);
  }

  /**
   * Sends a message. Retried with the same cmid after a lost connection and
   * after BUSY/RATE_LIMITED (waiting retryMs plus jitter) until the deadline;
   * the server stores it once whatever the number of tries.
   */
  async send(channel: number, body: string, cmid: string = newCmid(), opts?: RequestOptions): Promise<SendResult> {
    const r = await this.request('send', { channel, cmid, body }, { ...opts, retry: true });
    return { ...r, cmid };
  }

  /** Replaces the body of one's own message. */
  edit(channel: number, seq: number, body: string, opts?: RequestOptions): Promise<Results['edit']> {
    return this.request('edit', { channel, seq, body }, opts);
  }

  /** Deletes one's own message (it stays as a tombstone). */
  delete(channel: number, seq: number, opts?: RequestOptions): Promise<Results['delete']> {
    return this.request('delete', { channel, seq }, opts);
  }

  /** A page of history: the newest before `before`, or the oldest after `after`, ascending. */
  history(
    channel: number,
    page: { before?: number; after?: number; limit?: number } = {},
    opts?: RequestOptions,
  ): Promise<Results['history']> {
    return this.request('history', { channel, ...page }, opts);
  }

  /** Moves the caller's read marker forward. */
  read(channel: number, seq: number, opts?: RequestOptions): Promise<Results['read']> {
    return this.request('read', { channel, seq }, opts);
  }

  /** Members of a channel with role and online flag. */
  who(channel: number, opts?: RequestOptions): Promise<Results['who']> {
    return this.request('who', { channel }, opts);
  }

  /** Tells the other subscribers that the caller is typing. */
  typing(channel: number, opts?: RequestOptions): Promise<Results['typing']> {
    return this.request('typing', { channel }, opts);
  }

  /** Round trip to the server; resolves with the server's time. */
  ping(opts?: RequestOptions): Promise<Results['ping']> {
    return this.request('ping', {}, opts);
  }

  /**
   * Subscribes to a channel: messages after `after` (or, without it, from now
   * on) are emitted as 'message' in seq order, each once, across reconnects.
   * Resolves with the last delivered seq once the replay and any history pages
   * are delivered; rejects, subscribing nothing, when the server refuses.
   */
  subscribe(channel: number, after?: number, opts?: RequestOptions): Promise<number> {
    return this.subscriptions.subscribe(channel, after, (args) => this.request('subscribe', args, opts));
  }

  /** Stops delivery for a channel. */
  unsubscribe(channel: number, opts?: RequestOptions): Promise<Results['unsubscribe']> {
    this.subscriptions.forget(channel);
    return this.request('unsubscribe', { channel }, opts);
  }

  /** Last seq delivered on a subscribed channel (the resume point), or undefined. */
  lastDelivered(channel: number): number | undefined {
    return this.subscriptions.lastDelivered(channel);
  }

  /** Channels currently subscribed. */
  subscribedChannels(): number[] {
    return this.subscriptions.channels();
  }
}
