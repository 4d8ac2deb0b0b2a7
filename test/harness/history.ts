/**
 * Simulated channel histories and the segments a snapshot writer would have
 * made of them: for restore tests and the restore benchmark.
 *
 * Each channel appends messages, edits and deletes earlier ones, and writes a
 * segment of `segmentSize` messages whenever a full one is `segmentSize`
 * behind, so edits land both inside not-yet-written ranges (carried as the
 * message's state) and in written ones (carried as amendments of the next
 * segment). A member leaves halfway, so later segments list them as a sender.
 * The `overlap` channel also gets a stale writer's segment over a range that
 * straddles two regular ones, written before them with older states.
 */
import type { ChannelKind, Role } from '../../protocol/messages.js';
import { SEGMENT_FORMAT, segmentKey, type Segment, type SegmentMessage } from '../../runtime/snapshot/segment.js';

export interface HistoryOptions {
  channels: number;
  messagesPerChannel: number;
  segmentSize: number;
  /** Index of the channel that also gets a stale overlapping segment (-1: none). */
  overlap?: number;
  /** Pads every body to this many characters (default: no padding, ~20). */
  bodyChars?: number;
}

export interface ExpectedChannel {
  id: number;
  name: string | null;
  kind: ChannelKind;
  topic: string;
  directKey: string | null;
  members: { user: number; role: Role; lastReadSeq: number }[];
  /** Final state of every message, by seq. */
  messages: SegmentMessage[];
}

export interface History {
  segments: { key: string; segment: Segment }[];
  channels: ExpectedChannel[];
  users: Map<number, string>;
}

const KINDS: ChannelKind[] = ['public', 'private', 'direct'];
const T0 = Date.UTC(2025, 0, 1);

export function buildHistory(o: HistoryOptions): History {
  const segments: History['segments'] = [];
  const channels: ExpectedChannel[] = [];
  const users = new Map<number, string>();
  for (let c = 0; c < o.channels; c++) {
    // Sparse ids: a restore must keep them, not renumber.
    const id = 10 + c * 7;
    const kind = KINDS[c % 3]!;
    const memberIds = kind === 'direct' ? [100 + c, 101 + c] : [100 + c, 101 + c, 102 + c, 103 + c];
    for (const u of memberIds) users.set(u, `user-${u}`);
    const ch = {
      id,
      name: kind === 'direct' ? null : `room-${id}`,
      kind,
      topic: kind === 'direct' ? '' : `topic of ${id}`,
      directKey: kind === 'direct' ? `${memberIds[0]}:${memberIds[1]}` : null,
    };
    const roles = new Map<number, Role>(memberIds.map((u, i) => [u, i === 0 ? 'owner' : 'member']));
    const read = new Map<number, number>(memberIds.map((u) => [u, 0]));
    const msgs: SegmentMessage[] = [];
    const changed = new Set<number>();
    let clock = T0 + c * 1000;
    let epoch = 1;
    let written = 0; // last seq in a segment
    const tick = (): number => (clock += 3);
    const snapshot = (from: number, to: number, amend: boolean, writer = epoch): Segment => {
      const inRange = msgs.slice(from - 1, to).map((m) => ({ ...m }));
      const amendments = amend ? [...changed].sort((a, b) => a - b).map((s) => ({ ...pick(msgs[s - 1]!) })) : [];
      const members = [...roles].map(([user, role]) => ({ user, name: users.get(user)!, role, lastReadSeq: read.get(user)! }));
      const senderIds = new Set(inRange.map((m) => m.sender).filter((s) => !roles.has(s)));
      const senders = [...senderIds].map((user) => ({ user, name: users.get(user)! }));
      return { format: SEGMENT_FORMAT, channel: ch, members, senders, epoch: writer, from, to, messages: inRange, amendments, written: tick() };
    };
    const push = (s: Segment): void => {
      segments.push({ key: segmentKey(id, s.from, s.to, s.written), segment: s });
    };
    const change = (m: SegmentMessage, how: 'edit' | 'delete'): void => {
      if (m.deleted) return; // the live store refuses both on a deleted message
      if (how === 'edit') {
        m.body = `${m.body} (edited)`;
        m.edited = tick();
      } else {
        m.body = '';
        m.deleted = true;
      }
      if (m.seq <= written) changed.add(m.seq);
    };
    for (let seq = 1; seq <= o.messagesPerChannel; seq++) {
      const senders = [...roles.keys()];
      msgs.push({ seq, sender: senders[seq % senders.length]!, cmid: `c-${id}-${seq}`, body: `message ${seq} in ${id} ✓`.padEnd(o.bodyChars ?? 0, '.'), ts: tick() });
      if (seq % 5 === 0) change(msgs[seq - 4 - 1]!, 'edit');
      if (seq % 11 === 0) change(msgs[seq - 9 - 1]!, 'delete');
      if (seq === Math.floor(o.messagesPerChannel / 2) && kind !== 'direct') {
        roles.delete(memberIds[3]!); // leaves: from now on a sender, not a member
        roles.set(memberIds[2]!, 'admin');
      }
      for (const u of roles.keys()) read.set(u, Math.max(read.get(u)!, seq - (u % 4) * 3));
      if (c === o.overlap && seq === Math.floor(1.5 * o.segmentSize)) {
        // A stale owner's segment, written now, before the regular [1..N], with a member who will not stay.
        const stale = snapshot(o.segmentSize / 2 + 1, seq, false, epoch);
        stale.members.push({ user: 999, name: 'user-999', role: 'member', lastReadSeq: 0 });
        users.set(999, 'user-999');
        push(stale);
        epoch++;
        change(msgs[o.segmentSize / 2 + 2 - 1]!, 'edit');
        change(msgs[o.segmentSize / 2 + 3 - 1]!, 'delete');
      }
      if (seq - written >= 2 * o.segmentSize) {
        push(snapshot(written + 1, written + o.segmentSize, true));
        written += o.segmentSize;
        changed.clear();
      }
    }
    // The last full or partial segments, then edits made after them as an amendment-only segment.
    while (written < msgs.length) {
      const to = Math.min(msgs.length, written + o.segmentSize);
      push(snapshot(written + 1, to, true));
      written = to;
      changed.clear();
    }
    change(msgs[0]!, 'edit');
    push(snapshot(written + 1, written, true));
    const expectedMembers = [...roles].map(([user, role]) => ({ user, role, lastReadSeq: read.get(user)! }));
    channels.push({ ...ch, members: expectedMembers.sort((a, b) => a.user - b.user), messages: msgs.map((m) => ({ ...m })) });
  }
  return { segments, channels, users };
}

function pick(m: SegmentMessage): Segment['amendments'][number] {
  return { seq: m.seq, body: m.body, ...(m.edited === undefined ? {} : { edited: m.edited }), ...(m.deleted ? { deleted: true } : {}) };
}
