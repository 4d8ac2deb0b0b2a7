import { BlobError, type BlobStore, type SnapshotLog } from '../ports.js';
import { encodeSegment, segmentKey, SEGMENT_FORMAT, type Segment } from './segment.js';

export interface SegmentWritten {
  written: boolean;
  key?: string;
  /** Last seq now covered by segments. */
  to: number;
  messages: number;
  amendments: number;
}

/**
 * Writes the channel's next segment: messages after the last recorded one (up
 * to `maxMessages`) and the edits and deletes since it. Create-only, so no
 * writer (a stale owner, a concurrent `snapshot --all`) replaces a segment.
 * Reads come from PostgreSQL, so whoever writes, the content is the truth.
 */
export async function writeSegment(
  log: SnapshotLog,
  blobs: BlobStore,
  channelId: number,
  epoch: number,
  maxMessages: number,
): Promise<SegmentWritten> {
  const last = await log.lastSnapshot(channelId);
  const after = last?.toSeq ?? 0;
  const src = await log.segmentSource(channelId, after, maxMessages, last?.readAt ?? null);
  if (!src || (src.messages.length === 0 && src.amendments.length === 0)) {
    return { written: false, to: after, messages: 0, amendments: 0 };
  }
  const written = Date.now();
  const from = after + 1;
  const to = after + src.messages.length;
  const { channel } = src;
  const segment: Segment = {
    format: SEGMENT_FORMAT,
    channel: { id: channel.id, name: channel.name, kind: channel.kind, topic: channel.topic, directKey: channel.directKey },
    members: src.members,
    senders: src.senders,
    epoch: Math.max(epoch, channel.ownerEpoch),
    from,
    to,
    messages: src.messages.map((m) => ({
      seq: m.seq,
      sender: m.senderId,
      cmid: m.cmid,
      body: m.body,
      ts: m.ts,
      ...(m.editedAt === null ? {} : { edited: m.editedAt }),
      ...(m.deleted ? { deleted: true } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
    })),
    amendments: src.amendments.map((m) => ({
      seq: m.seq,
      body: m.body,
      ...(m.editedAt === null ? {} : { edited: m.editedAt }),
      ...(m.deleted ? { deleted: true } : {}),
    })),
    written,
  };
  const bytes = await encodeSegment(segment);
  const key = segmentKey(channelId, from, to, written);
  try {
    await blobs.put(key, bytes, { ifAbsent: true, contentType: 'application/vnd.tertulia.segment' });
  } catch (err) {
    // Same key means the same range written in the same millisecond: already there.
    if (!(err instanceof BlobError && err.kind === 'exists')) throw err;
  }
  await log.recordSnapshot({
    channelId,
    from,
    to,
    key,
    epoch: segment.epoch,
    messages: src.messages.length,
    amendments: src.amendments.length,
    bytes: bytes.length,
    readAt: src.readAt,
  });
  return { written: true, key, to, messages: src.messages.length, amendments: src.amendments.length };
}
