/**
 * Reads and records for history snapshots. A segment's source is read in one
 * statement so its messages, amendments and members agree with each other.
 */
import { StoreError, type SegmentSource, type SnapshotLog, type SnapshotRecord } from '../ports.js';
import { CHANNEL_COLUMNS, MESSAGE_COLUMNS, MESSAGE_FROM, toChannel, toMessage } from './rows.js';
import { epochMs, isoTime, num, type Sql } from './sql.js';

export class PgSnapshotLog implements SnapshotLog {
  constructor(private readonly sql: Sql) {}

  async lastSnapshot(channelId: number): Promise<{ toSeq: number; readAt: number } | null> {
    const row = await this.sql.one(
      `select to_seq, ${epochMs('created_at')} as read_ms from snapshots where channel_id = ?
       order by to_seq desc, created_at desc limit 1`,
      [channelId],
    );
    return row ? { toSeq: num(row.to_seq), readAt: num(row.read_ms) } : null;
  }

  async segmentSource(channelId: number, after: number, limit: number, changedSince: number | null): Promise<SegmentSource | null> {
    const [row] = await this.sql.query(
      `select
         (select row_to_json(c) from (select ${CHANNEL_COLUMNS}, c.direct_key from channels c where c.id = ?) c) as channel,
         (select coalesce(json_agg(json_build_object('user', m.user_id, 'name', u.name, 'role', m.role, 'lastReadSeq', m.last_read_seq)), '[]')
            from memberships m join users u on u.id = m.user_id where m.channel_id = ?) as members,
         (select coalesce(json_agg(x order by x.seq), '[]') from (
            select ${MESSAGE_COLUMNS} from ${MESSAGE_FROM} where m.channel_id = ? and m.seq > ? order by m.seq limit ?) x) as messages,
         (select coalesce(json_agg(x order by x.seq), '[]') from (
            select ${MESSAGE_COLUMNS} from ${MESSAGE_FROM} where m.channel_id = ? and m.seq <= ?
              and m.changed_at is not null and m.changed_at > ?::timestamptz) x) as amendments,
         ${epochMs('clock_timestamp()')} as read_ms`,
      [channelId, channelId, channelId, after, limit, channelId, after, isoTime(changedSince ?? 0)],
    );
    if (!row?.channel) return null;
    const parse = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
    const ch = parse<Record<string, unknown>>(row.channel);
    const members = parse<SegmentSource['members']>(row.members).map((m) => ({ ...m, user: num(m.user), lastReadSeq: num(m.lastReadSeq) }));
    const messages = parse<Record<string, unknown>[]>(row.messages).map(toMessage);
    const amendments = parse<Record<string, unknown>[]>(row.amendments).map(toMessage);
    const known = new Set(members.map((m) => m.user));
    const senders = new Map<number, string>();
    for (const m of [...messages, ...amendments]) if (!known.has(m.senderId)) senders.set(m.senderId, m.senderName);
    return {
      channel: { ...toChannel(ch), directKey: (ch.direct_key as string | null) ?? null },
      members,
      senders: [...senders].map(([user, name]) => ({ user, name })),
      messages,
      amendments,
      readAt: num(row.read_ms),
    };
  }

  async recordSnapshot(r: SnapshotRecord): Promise<void> {
    try {
      await this.sql.query(
        `insert into snapshots (channel_id, from_seq, to_seq, key, epoch, messages, amendments, bytes, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?::timestamptz) on conflict do nothing`,
        [r.channelId, r.from, r.to, r.key, r.epoch, r.messages, r.amendments, r.bytes, isoTime(r.readAt)],
      );
    } catch (err) {
      if (err instanceof StoreError && err.kind === 'not_found') return; // the channel is gone
      throw err;
    }
  }

  async channelIds(): Promise<number[]> {
    return (await this.sql.query('select id from channels order by id')).map((r) => num(r.id));
  }
}
