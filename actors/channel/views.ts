import type { MessageView } from '../../protocol/messages.js';
import type { MessageRecord } from '../../runtime/ports.js';

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
