import type { ChannelInfo, MessageView, Role } from '../../protocol/messages.js';
import type { ChannelRecord, MessageRecord } from '../../runtime/ports.js';
import type { Committed } from './writer.js';

/** A stored message as clients see it: optional fields only when set. */
export function toView(m: MessageRecord): MessageView {
  const v: MessageView = {
    channel: m.channelId,
    seq: m.seq,
    sender: m.senderId,
    from: m.senderName,
    body: m.body,
    ts: m.ts,
    cmid: m.cmid,
  };
  if (m.editedAt !== null) v.edited = m.editedAt;
  if (m.deleted) v.deleted = true;
  if (m.attachments) v.attachments = m.attachments;
  return v;
}

/** A message just committed, as its followers see it. */
export function committedView(channel: number, c: Committed): MessageView {
  const v: MessageView = {
    channel,
    seq: c.outcome.seq,
    sender: c.msg.senderId,
    from: c.senderName,
    body: c.msg.body,
    ts: c.outcome.ts,
    cmid: c.msg.cmid,
  };
  if (c.msg.attachments?.length) v.attachments = c.msg.attachments;
  return v;
}

/** A channel as `user` sees it: their role, and for a direct channel the other user's name. */
export function channelView(
  rec: ChannelRecord,
  lastSeq: number,
  members: ReadonlyMap<number, { name: string; role: Role }>,
  user: number,
): ChannelInfo {
  const info: ChannelInfo = { id: rec.id, name: rec.name, kind: rec.kind, topic: rec.topic, lastSeq };
  const m = members.get(user);
  if (m) info.role = m.role;
  if (rec.kind === 'direct') {
    for (const [id, other] of members) if (id !== user) info.peer = other.name;
  }
  return info;
}
