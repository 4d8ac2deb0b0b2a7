/**
 * The shapes of requests, results and events. Every request is a map
 * `{op, id, ...fields}`; every reply is `{id, result}` or `{id, error}`;
 * every server push is `{ev, ...fields}` with no `id`.
 */

export const PROTOCOL_VERSION = 1;

export type ChannelKind = 'public' | 'private' | 'direct';
export type Role = 'owner' | 'admin' | 'member';

/** A channel as the caller sees it. */
export interface ChannelInfo {
  id: number;
  /** Null for direct channels. */
  name: string | null;
  kind: ChannelKind;
  topic: string;
  lastSeq: number;
  /** The caller's role, when a member. */
  role?: Role;
  /** The caller's read marker, when a member. */
  lastReadSeq?: number;
  /** Messages after the read marker, when a member. */
  unread?: number;
  /** For direct channels: the other user's name. */
  peer?: string;
}

/** A stored message as delivered in events, replays and history. */
export interface MessageView {
  channel: number;
  seq: number;
  sender: number;
  from: string;
  body: string;
  /** Commit time, ms since the epoch, stamped by the channel owner. */
  ts: number;
  cmid: string;
  /** Edit time in ms, present only when edited. */
  edited?: number;
  /** Present and true for tombstones; `body` is then empty. */
  deleted?: boolean;
  /** Files posted with the message, in the order given; absent when none (and on tombstones). */
  attachments?: AttachmentView[];
}

/** A stored file as messages and uploads describe it. */
export interface AttachmentView {
  /** 22 base64url characters; names the file in `download` and `send`. */
  id: string;
  /** File name given by the uploader (no path). */
  name: string;
  /** Content type given by the uploader, lowercased, e.g. "image/png". */
  type: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the bytes, 64 lowercase hex digits, verified by the server. */
  sha256: string;
}

export interface MemberView {
  user: number;
  name: string;
  role: Role;
  online: boolean;
}

export interface Limits {
  maxFrameBytes: number;
  maxBodyChars: number;
  historyPage: number;
  maxPending: number;
  heartbeatMs: number;
  idleTimeoutMs: number;
  /** Largest attachment `upload` accepts, in bytes. */
  maxAttachmentBytes: number;
  /** Largest `data` of one `chunk`, and of one `download` reply. */
  chunkBytes: number;
  /** Most attachments on one message. */
  maxAttachments: number;
}

/** Request fields per op (without `op` and `id`). */
export interface Requests {
  hello: { version: number; client?: string };
  ping: Record<string, never>;
  register: { name: string; password: string };
  login: { name: string; password: string };
  auth: { token: string };
  logout: Record<string, never>;
  create: { name: string; kind: 'public' | 'private'; topic?: string };
  join: { channel?: number; name?: string };
  leave: { channel: number };
  invite: { channel: number; user: string };
  kick: { channel: number; user: string };
  role: { channel: number; user: string; role: 'admin' | 'member' };
  channels: Record<string, never>;
  find: { prefix: string; limit?: number };
  direct: { user: string };
  /** `body` may be empty only when `attachments` is not. */
  send: { channel: number; cmid: string; body: string; attachments?: string[] };
  edit: { channel: number; seq: number; body: string };
  delete: { channel: number; seq: number };
  history: { channel: number; before?: number; after?: number; limit?: number };
  subscribe: { channel: number; after?: number };
  unsubscribe: { channel: number };
  read: { channel: number; seq: number };
  who: { channel: number };
  typing: { channel: number };
  /** Starts an upload of `size` bytes whose SHA-256 is `sha256` (hex). */
  upload: { name: string; type: string; size: number; sha256: string };
  /** The bytes from `offset`; `offset` may repeat bytes already received (they are skipped), never leave a hole. */
  chunk: { upload: string; offset: number; data: Uint8Array };
  /** Ends an upload: the server checks size and SHA-256 and stores the file. */
  finish: { upload: string };
  /** Reads up to `length` bytes (at most `limits.chunkBytes`) from `offset`. */
  download: { attachment: string; offset?: number; length?: number };
}

/** Result per op. */
export interface Results {
  hello: { version: number; server: string; limits: Limits };
  ping: { ts: number };
  register: { user: number; name: string; token: string; expires: number };
  login: { user: number; name: string; token: string; expires: number };
  auth: { user: number; name: string; expires: number };
  logout: Record<string, never>;
  create: { channel: ChannelInfo };
  join: { channel: ChannelInfo };
  leave: Record<string, never>;
  invite: Record<string, never>;
  kick: Record<string, never>;
  role: Record<string, never>;
  channels: { channels: ChannelInfo[] };
  find: { channels: ChannelInfo[] };
  direct: { channel: ChannelInfo };
  send: { seq: number; ts: number; duplicate?: boolean };
  edit: { seq: number; edited: number };
  delete: { seq: number };
  history: { messages: MessageView[]; more: boolean };
  subscribe: { lastSeq: number; messages: MessageView[]; complete: boolean };
  unsubscribe: Record<string, never>;
  read: { lastReadSeq: number };
  who: { members: MemberView[] };
  typing: Record<string, never>;
  /** `upload` is the attachment id-to-be; send chunks of at most `chunkBytes`. */
  upload: { upload: string; chunkBytes: number };
  /** Bytes received so far: the next chunk's offset. */
  chunk: { received: number };
  finish: { attachment: AttachmentView };
  /** `data` holds bytes `offset`..`offset + data.length - 1`; `eof` once it reaches the end. */
  download: { attachment: AttachmentView; offset: number; data: Uint8Array; eof: boolean };
}

export type Op = keyof Requests;

/** Server pushes, keyed by `ev`. */
export interface Events {
  msg: MessageView;
  edit: { channel: number; seq: number; body: string; edited: number };
  delete: { channel: number; seq: number };
  typing: { channel: number; user: number; name: string };
  presence: { channel: number; user: number; name: string; online: boolean };
  member: { channel: number; user: number; name: string; action: 'joined' | 'left' | 'invited' | 'kicked' | 'role'; role?: Role };
  /** The server is shutting down; reconnect to one of these `host:port` addresses. */
  move: { servers: string[] };
  /**
   * A fault not tied to a request id (undecodable frame, idle timeout, slow
   * consumer, shutdown). Followed by a close unless the text says otherwise.
   */
  error: { error: { code: number; message: string } };
}

export type EventName = keyof Events;
