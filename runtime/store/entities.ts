/**
 * MikroORM metadata for the tables that migrations create. The store reads and
 * writes through SQL on the hot paths (DESIGN.md: unit-of-work flush costs ~50 µs
 * per entity), so these schemas mainly give MikroORM its metadata and let tools
 * and the query builder name columns; the hand-written migrations are the
 * schema's source of truth. Ids and seqs are bigint columns mapped to JS numbers:
 * every value stays below 2^53.
 */
import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const UserEntity = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    name: p.text().unique('users_name_key'),
    passwordHash: p.blob().columnType('bytea'),
    salt: p.blob().columnType('bytea'),
    createdAt: p.datetime().columnType('timestamptz').defaultRaw('now()'),
  }),
});

export const SessionEntity = defineEntity({
  name: 'Session',
  tableName: 'sessions',
  properties: (p) => ({
    tokenHash: p.blob().columnType('bytea').primary(),
    user: p.manyToOne(UserEntity).deleteRule('cascade').index('sessions_user_id_idx'),
    expiresAt: p.datetime().columnType('timestamptz'),
    createdAt: p.datetime().columnType('timestamptz').defaultRaw('now()'),
  }),
});

export const ChannelEntity = defineEntity({
  name: 'Channel',
  tableName: 'channels',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    /** Null for direct channels, which are named by their members. */
    name: p.text().nullable().unique('channels_name_key'),
    kind: p.text().check(`kind in ('public', 'private', 'direct')`),
    topic: p.text().default(''),
    /** "low:high" user ids of a direct channel; the key that makes openDirect idempotent. */
    directKey: p.text().nullable().unique('channels_direct_key_key'),
    lastSeq: p.bigint('number').default(0),
    ownerEpoch: p.bigint('number').default(0),
    createdAt: p.datetime().columnType('timestamptz').defaultRaw('now()'),
  }),
});

export const MembershipEntity = defineEntity({
  name: 'Membership',
  tableName: 'memberships',
  properties: (p) => ({
    channel: p.manyToOne(ChannelEntity).primary().deleteRule('cascade'),
    user: p.manyToOne(UserEntity).primary().deleteRule('cascade').index('memberships_user_id_idx'),
    role: p.text().check(`role in ('owner', 'admin', 'member')`),
    lastReadSeq: p.bigint('number').default(0),
    joinedAt: p.datetime().columnType('timestamptz').defaultRaw('now()'),
  }),
});

export const MessageEntity = defineEntity({
  name: 'Message',
  tableName: 'messages',
  properties: (p) => ({
    channel: p.manyToOne(ChannelEntity).primary().deleteRule('cascade'),
    seq: p.bigint('number').primary(),
    // No foreign key to users: the check would lock a users row per inserted
    // message on the hot path, and users are never deleted.
    senderId: p.bigint('number'),
    clientMsgId: p.text(),
    body: p.text(),
    /** Commit time, stamped by the owning actor's transaction. */
    ts: p.datetime().columnType('timestamptz'),
    editedAt: p.datetime().columnType('timestamptz').nullable(),
    deleted: p.boolean().default(false),
    /** The attachments' descriptions (AttachmentView[]), null when none. */
    attachments: p.json<unknown[]>().columnType('jsonb').nullable(),
  }),
  uniques: [{ name: 'messages_idempotency_key', properties: ['channel', 'senderId', 'clientMsgId'] }],
});

export const AttachmentEntity = defineEntity({
  name: 'Attachment',
  tableName: 'attachments',
  properties: (p) => ({
    /** 22 base64url characters; the blob key is `attachments/<id>`. */
    id: p.text().primary(),
    uploader: p.manyToOne(UserEntity).index('attachments_uploader_idx'),
    name: p.text(),
    contentType: p.text(),
    size: p.bigint('number'),
    sha256: p.blob().columnType('bytea'),
    /** 'uploading' until the bytes are stored and verified, then 'stored'. */
    state: p.text().check(`state in ('uploading', 'stored')`).default('uploading'),
    createdAt: p.datetime().columnType('timestamptz').defaultRaw('now()').index('attachments_created_idx'),
    storedAt: p.datetime().columnType('timestamptz').nullable(),
  }),
});

/** Which messages carry an attachment: download permission and cleanup follow these. */
export const MessageAttachmentEntity = defineEntity({
  name: 'MessageAttachment',
  tableName: 'message_attachments',
  properties: (p) => ({
    channelId: p.bigint('number').primary(),
    seq: p.bigint('number').primary(),
    attachment: p.manyToOne(AttachmentEntity).primary(),
  }),
});

export type User = InferEntity<typeof UserEntity>;
export type Session = InferEntity<typeof SessionEntity>;
export type Channel = InferEntity<typeof ChannelEntity>;
export type Membership = InferEntity<typeof MembershipEntity>;
export type Message = InferEntity<typeof MessageEntity>;

export type Attachment = InferEntity<typeof AttachmentEntity>;

export const entities = [UserEntity, SessionEntity, ChannelEntity, MembershipEntity, MessageEntity, AttachmentEntity, MessageAttachmentEntity];
