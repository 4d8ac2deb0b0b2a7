/** Column lists and row mappers shared by the store's queries. */
import type { AttachmentView, ChannelKind, Role } from '../../protocol/messages.js';
import type { ChannelRecord, MembershipRecord, MessageRecord, UserChannelRecord } from '../ports.js';
import { epochMs, num, type Row } from './sql.js';

/** Channel columns, for a table aliased `c`. */
export const CHANNEL_COLUMNS = 'c.id, c.name, c.kind, c.topic, c.last_seq, c.owner_epoch';

/** Message columns with the sender's name, for `messages m left join users u on u.id = m.sender_id`. */
export const MESSAGE_COLUMNS = `m.channel_id, m.seq, m.sender_id, coalesce(u.name, '') as sender_name,
  m.client_msg_id, m.body, ${epochMs('m.ts')} as ts_ms, ${epochMs('m.edited_at')} as edited_ms, m.deleted, m.attachments`;

export const MESSAGE_FROM = 'messages m left join users u on u.id = m.sender_id';

export function toChannel(row: Row): ChannelRecord {
  return {
    id: num(row.id),
    name: (row.name as string | null) ?? null,
    kind: row.kind as ChannelKind,
    topic: row.topic as string,
    lastSeq: num(row.last_seq),
    ownerEpoch: num(row.owner_epoch),
  };
}

export function toUserChannel(row: Row): UserChannelRecord {
  return {
    ...toChannel(row),
    role: row.role as Role,
    lastReadSeq: num(row.last_read_seq),
    peer: (row.peer as string | null) ?? null,
  };
}

export function toMember(row: Row): MembershipRecord {
  return {
    channelId: num(row.channel_id),
    userId: num(row.user_id),
    name: row.name as string,
    role: row.role as Role,
    lastReadSeq: num(row.last_read_seq),
  };
}

export function toMessage(row: Row): MessageRecord {
  return {
    channelId: num(row.channel_id),
    seq: num(row.seq),
    senderId: num(row.sender_id),
    senderName: row.sender_name as string,
    cmid: row.client_msg_id as string,
    body: row.body as string,
    ts: num(row.ts_ms),
    editedAt: row.edited_ms === null || row.edited_ms === undefined ? null : num(row.edited_ms),
    deleted: row.deleted === true,
    attachments: attachmentsOf(row.attachments),
  };
}

/** The jsonb `attachments` column (parsed by the driver, or JSON text from a simple query path). */
export function attachmentsOf(value: unknown): AttachmentView[] | null {
  if (value === null || value === undefined) return null;
  const list = (typeof value === 'string' ? JSON.parse(value) : value) as AttachmentView[];
  return Array.isArray(list) && list.length > 0 ? list : null;
}
