/**
 * Interfaces at the I/O boundaries. Actors and handlers see only these; the
 * composition root picks the adapters.
 */
import type { AttachmentView, ChannelKind, Role } from '../protocol/messages.js';

export interface UserRecord {
  id: number;
  name: string;
}

export interface CredentialRecord extends UserRecord {
  passwordHash: Buffer;
  salt: Buffer;
}

export interface SessionRecord {
  userId: number;
  name: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

export interface ChannelRecord {
  id: number;
  /** Null for direct channels. */
  name: string | null;
  kind: ChannelKind;
  topic: string;
  lastSeq: number;
  ownerEpoch: number;
}

export interface MembershipRecord {
  channelId: number;
  userId: number;
  name: string;
  role: Role;
  lastReadSeq: number;
}

/** A channel listed for one user: the channel plus that user's membership. */
export interface UserChannelRecord extends ChannelRecord {
  role: Role;
  lastReadSeq: number;
  /** For direct channels: the other member's name. */
  peer: string | null;
}

export interface MessageRecord {
  channelId: number;
  seq: number;
  senderId: number;
  senderName: string;
  cmid: string;
  body: string;
  /** Commit time, ms since the epoch. */
  ts: number;
  /** Edit time in ms, or null. */
  editedAt: number | null;
  deleted: boolean;
  /** The files the message carries, in order; null when none (always on tombstones). */
  attachments: AttachmentView[] | null;
}

export interface NewMessage {
  senderId: number;
  cmid: string;
  body: string;
  /** Stored attachments of the sender, as AttachmentLog.postable returned them. */
  attachments?: AttachmentView[];
}

export interface AppendOutcome {
  seq: number;
  ts: number;
  /** True when (sender, cmid) was already stored: seq and ts are the original's. */
  duplicate: boolean;
}

export interface HistoryQuery {
  /** Only seqs strictly below this. */
  before?: number;
  /** Only seqs strictly above this. */
  after?: number;
  /** At most this many rows. With `after` the oldest come first, otherwise the newest. */
  limit: number;
}

export type StoreErrorKind = 'conflict' | 'fenced' | 'not_found' | 'unavailable';

/** A store failure the caller can act on; other errors are faults. */
export class StoreError extends Error {
  readonly kind: StoreErrorKind;
  constructor(kind: StoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.kind = kind;
  }
}

/** Durable state. Write methods that take an `epoch` are fenced by `channels.owner_epoch`. */
export interface Store {
  // users and sessions
  /** Throws StoreError('conflict') when the name is taken. */
  createUser(name: string, passwordHash: Buffer, salt: Buffer): Promise<UserRecord>;
  findCredentials(name: string): Promise<CredentialRecord | null>;
  findUser(name: string): Promise<UserRecord | null>;
  getUser(id: number): Promise<UserRecord | null>;
  createSession(userId: number, tokenHash: Buffer, expiresAt: number): Promise<void>;
  /** The live session for a token hash; null when unknown or expired. */
  findSession(tokenHash: Buffer, now: number): Promise<SessionRecord | null>;
  /** findSession for many tokens in one statement; results in input order. */
  findSessions(tokenHashes: Buffer[], now: number): Promise<(SessionRecord | null)[]>;
  deleteSession(tokenHash: Buffer): Promise<void>;

  // channels and memberships
  /** Creates the channel and the creator's owner membership in one transaction. Throws 'conflict' on a taken name. */
  createChannel(name: string, kind: 'public' | 'private', topic: string, creatorId: number): Promise<ChannelRecord>;
  /** The direct channel of two users, created with both memberships on first call. Idempotent, safe under races. */
  openDirect(a: number, b: number): Promise<ChannelRecord>;
  getChannel(id: number): Promise<ChannelRecord | null>;
  getChannelByName(name: string): Promise<ChannelRecord | null>;
  /** Public channels whose name starts with `prefix`, by name. */
  findPublic(prefix: string, limit: number): Promise<ChannelRecord[]>;
  listForUser(userId: number): Promise<UserChannelRecord[]>;
  members(channelId: number): Promise<MembershipRecord[]>;
  /** Inserts or updates a membership. */
  putMember(channelId: number, userId: number, role: Role): Promise<void>;
  removeMember(channelId: number, userId: number): Promise<void>;
  /** Moves the read marker forward only; returns the marker now stored. */
  markRead(channelId: number, userId: number, seq: number): Promise<number>;

  // messages: called only by the channel's owning actor
  /**
   * Raises owner_epoch to GREATEST(owner_epoch + 1, claimEpoch) and returns the
   * new epoch and last_seq in one statement. The epoch fences later writes.
   */
  activate(channelId: number, claimEpoch: number): Promise<{ epoch: number; lastSeq: number }>;
  /**
   * One transaction: checks owner_epoch = epoch (FOR UPDATE), assigns seqs from
   * last_seq + 1 to messages not already stored under (sender, cmid), inserts
   * them with the commit timestamp, advances last_seq. Outcomes are in input
   * order; a repeat within the batch gets the first one's outcome.
   * Throws StoreError('fenced') when the epoch moved on.
   */
  append(channelId: number, epoch: number, batch: NewMessage[]): Promise<AppendOutcome[]>;
  /** Fenced edit; returns the edit time. Throws 'not_found' for a missing or deleted message. */
  editMessage(channelId: number, epoch: number, seq: number, body: string): Promise<number>;
  /** Fenced tombstone: body cleared, deleted set. Throws 'not_found' for a missing or deleted message. */
  deleteMessage(channelId: number, epoch: number, seq: number): Promise<void>;
  getMessage(channelId: number, seq: number): Promise<MessageRecord | null>;
  history(channelId: number, query: HistoryQuery): Promise<MessageRecord[]>;
  /** Messages stored in a channel (tests and tools). */
  countMessages(channelId: number): Promise<number>;

  close(): Promise<void>;
}

/** A new upload's description, recorded before its bytes arrive. */
export interface NewUpload {
  id: string;
  uploaderId: number;
  name: string;
  type: string;
  size: number;
  /** 64 lowercase hex digits. */
  sha256: string;
}

/**
 * The attachment side of the store. An attachment's row exists from the start
 * of its upload; its bytes live in the blob store under `attachments/<id>`.
 * Links from messages decide who may download it and keep it from cleanup.
 */
export interface AttachmentLog {
  /** Records an upload as it begins (state 'uploading'). */
  beginUpload(u: NewUpload): Promise<void>;
  /** Marks an upload whose bytes are stored and verified as stored. */
  completeUpload(id: string): Promise<void>;
  /** Forgets an upload that will not complete (its bytes were never stored). */
  dropUpload(id: string): Promise<void>;
  /** Of `ids`, the stored attachments uploaded by `uploaderId`, in the order of `ids`; others are left out. */
  postable(uploaderId: number, ids: string[]): Promise<AttachmentView[]>;
  /** The stored attachment if `userId` uploaded it or is a member of a channel where a message carries it; else null. */
  readable(id: string, userId: number): Promise<AttachmentView | null>;
  /**
   * Ids due for deletion, oldest first: attachments created before `before`
   * that are still uploading (abandoned) or that no message carries.
   */
  sweepable(before: number, limit: number): Promise<string[]>;
  /**
   * Deletes the attachment's row if it is still due (as sweepable decides),
   * calling `removeBytes` before the deletion commits: if that throws, the row
   * stays. Returns false when the row was no longer due (e.g. just posted).
   */
  sweep(id: string, before: number, removeBytes: () => Promise<void>): Promise<boolean>;
}

/** A client connection as the actors see it: somewhere to write encoded frames. */
export interface Outlet {
  readonly id: number;
  /** Writes one encoded frame; may close the connection as a slow consumer. */
  write(frame: Buffer): void;
  /**
   * Writes an ephemeral event (presence, typing). It may wait a little so
   * that a crowd's events share one write per connection; order is kept.
   */
  writeEphemeral(frame: Buffer): void;
  readonly closed: boolean;
}

/** What the write path reports about itself. */
export interface WriteMetrics {
  /** One group commit of `size` messages; `waitedMs` is each one's time from arrival to commit. */
  committedBatch(size: number, waitedMs: number[]): void;
  writeRefused(reason: 'busy' | 'fenced' | 'error'): void;
}

/** A pod as the cluster knows it. */
export interface PodInfo {
  /** Stable name, e.g. the StatefulSet pod name "tertulia-0". */
  id: string;
  /** Raised on every start of the pod, so a restarted pod is told apart from its past self. */
  incarnation: number;
  /** host:port clients connect to. */
  client: string;
  /** host:port of the pod-to-pod link. */
  peer: string;
}

/** Who holds a channel, with the fencing epoch handed out when it was claimed. */
export interface ChannelClaim {
  pod: string;
  incarnation: number;
  epoch: number;
}

/**
 * Cluster membership and channel ownership. Redis (or, for one pod, memory)
 * decides who should own a channel; PostgreSQL's owner_epoch makes a stale
 * owner harmless, so a registry that loses data costs liveness, never safety.
 */
export interface Registry {
  /** Adds this pod with a fresh incarnation and takes its lease. */
  register(pod: Omit<PodInfo, 'incarnation'>, leaseMs: number): Promise<PodInfo>;
  /** Extends the lease; false when it had already expired or was taken over (the pod must stop serving). */
  renew(pod: PodInfo, leaseMs: number): Promise<boolean>;
  /** Drops the pod and its lease; its claims become free. */
  deregister(pod: PodInfo): Promise<void>;
  /** Pods whose lease is live, sorted by id. */
  livePods(): Promise<PodInfo[]>;
  /**
   * Calls `onChange` when pods join or leave. Notifications can be lost, so
   * implementations also re-check periodically; returns a stop function.
   */
  watch(onChange: () => void, checkEveryMs: number): Promise<() => void>;
  /**
   * Claims the channel for `pod` unless a live pod holds it. Returns whether it
   * was granted and the holder after the call; every grant carries a new epoch.
   */
  claim(channel: number, pod: PodInfo): Promise<{ granted: boolean; owner: ChannelClaim }>;
  /** The holder of a channel, or null when unclaimed or its pod's lease is gone. */
  owner(channel: number): Promise<ChannelClaim | null>;
  /** Frees the channel if `pod` (this incarnation) still holds it. */
  release(channel: number, pod: PodInfo): Promise<void>;
  close(): Promise<void>;
}

/** How a pod becomes a channel's owner before activating it. */
export interface ChannelClaims {
  /** The claim to activate with (its epoch feeds owner_epoch); throws NOT_OWNER when another pod owns it. */
  acquire(channel: number): Promise<ChannelClaim>;
  /** Gives the channel up after deactivation; a no-op if someone else holds it. */
  release(channel: number): Promise<void>;
}

// Object storage ports live beside their adapters.
export * from './blob/ports.js';

/** What one history segment is built from, read in one statement. */
export interface SegmentSource {
  channel: ChannelRecord & { directKey: string | null };
  members: { user: number; name: string; role: Role; lastReadSeq: number }[];
  senders: { user: number; name: string }[];
  /** Messages after the last segment, ascending, at most the limit asked. */
  messages: MessageRecord[];
  /** Messages up to the last segment changed (edited, deleted) since it. */
  amendments: MessageRecord[];
  /** Database time of the read: the next segment's amendments start here. */
  readAt: number;
}

export interface SnapshotRecord {
  channelId: number;
  from: number;
  to: number;
  key: string;
  epoch: number;
  messages: number;
  amendments: number;
  bytes: number;
  /** `readAt` of the source it was built from. */
  readAt: number;
}

/** The history-snapshot side of the store. */
export interface SnapshotLog {
  /** The newest recorded segment of a channel: where the next one starts. */
  lastSnapshot(channelId: number): Promise<{ toSeq: number; readAt: number } | null>;
  segmentSource(channelId: number, after: number, limit: number, changedSince: number | null): Promise<SegmentSource | null>;
  recordSnapshot(r: SnapshotRecord): Promise<void>;
  /** Every channel id, ascending (for `snapshot --all`). */
  channelIds(): Promise<number[]>;
}

/** Tells the snapshot writer what a channel actor committed; never blocks the actor. */
export interface SnapshotSink {
  committed(channelId: number, epoch: number, lastSeq: number): void;
  /** An edit or delete: a later segment must carry it. */
  changed(channelId: number, epoch: number): void;
  /** The channel deactivated here: write what is pending now. */
  closed(channelId: number): void;
}
