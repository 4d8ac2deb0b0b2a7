/**
 * TertuliaClient: the public client. One method per protocol operation on top
 * of the lifecycle in core.ts, plus subscribe with ordered, gap-free delivery.
 */
import { randomBytes } from 'node:crypto';
import type { AttachmentView, Results } from '../messages.js';
import * as A from './attachments.js';
import { ClientCore } from './core.js';
import type { ClientOptions, RequestOptions } from './types.js';

/** Result of send: the server's reply plus the cmid used, so the caller can match its own echo. */
export type SendResult = Results['send'] & { cmid: string };

/** Options of send: the request's, plus the ids of finished uploads to post with the message. */
export interface SendOptions extends RequestOptions {
  /** 1–10 attachment ids (from upload/uploadFile), shown in this order; with them `body` may be ''. */
  attachments?: string[];
}

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
   * the server stores it once whatever the number of tries. Files go along as
   * `opts.attachments` (ids of one's own finished uploads; an empty list is
   * the same as none); `body` may then be ''.
   */
  async send(channel: number, body: string, cmid: string = newCmid(), opts: SendOptions = {}): Promise<SendResult> {
    const { attachments, ...request } = opts;
    const args = attachments?.length ? { channel, cmid, body, attachments } : { channel, cmid, body };
    const r = await this.request('send', args, { ...request, retry: true });
    return { ...r, cmid };
  }

  /**
   * Uploads bytes held in memory as an attachment (type defaults to
   * application/octet-stream) and resolves with it, ready for
   * `send(channel, body, undefined, {attachments: [a.id]})`. Chunks are resent
   * after a lost connection; an upload the server lost (NO_SUCH_UPLOAD, as
   * after reconnecting to another server) starts over once.
   */
  upload(bytes: Uint8Array, meta: A.UploadMeta, opts?: A.UploadOptions): Promise<AttachmentView> {
    return A.uploadBytes(this, bytes, meta, opts);
  }

  /**
   * Uploads a file like upload(), streamed from disk (never wholly in memory).
   * Name defaults to the path's last component, type to a guess from its extension.
   */
  uploadFile(path: string, opts?: A.UploadFileOptions): Promise<AttachmentView> {
    return A.uploadFile(this, path, opts);
  }

  /** Downloads an attachment into memory; rejects with CHECKSUM_MISMATCH when size or SHA-256 differ. */
  download(id: string, opts?: A.DownloadOptions): Promise<{ attachment: AttachmentView; data: Buffer }> {
    return A.downloadBytes(this, id, opts);
  }

  /**
   * Downloads an attachment to a file, through `path + '.part'` renamed once
   * verified (replacing a file at `path`); rejects with CHECKSUM_MISMATCH when
   * size or SHA-256 differ, leaving nothing behind.
   */
  downloadTo(id: string, path: string, opts?: A.DownloadOptions): Promise<AttachmentView> {
    return A.downloadToFile(this, id, path, opts);
  }

  /** The description of an attachment one may download (name, type, size, sha256), without its bytes. */
  attachmentInfo(id: string, opts?: { timeoutMs?: number }): Promise<AttachmentView> {
    return A.attachmentInfo(this, id, opts);
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
