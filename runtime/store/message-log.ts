/**
 * The fenced message log of a channel: activation, group-commit append,
 * edit/delete, and history reads. Only a channel's owning actor writes here;
 * every write checks that `owner_epoch` still equals the epoch the owner got
 * from `activate`, under a row lock on the channel, so a paused or partitioned
 * old owner can no longer write once a new owner has activated.
 */
import { StoreError, type AppendOutcome, type HistoryQuery, type MessageRecord, type NewMessage } from '../ports.js';
import { MESSAGE_COLUMNS, MESSAGE_FROM, toMessage } from './rows.js';
import { epochMs, num, type Sql, type Tx } from './sql.js';

/** Largest batch one append accepts; the actor's pending batch is capped well below this. */
export const MAX_APPEND_BATCH = 5000;
/** Largest history page, whatever the caller asks for. */
export const MAX_HISTORY_PAGE = 1000;

interface Fence {
  lastSeq: number;
}

/**
 * The append statement: $1 channel, $2..$5 and $7 the batch as parallel
 * arrays (position, sender, cmid, body, attachments as JSON text or null), $6
 * the writer's epoch. Its text is fixed whatever the batch size, so it is
 * planned once per connection. Each inserted message links its attachments
 * under FOR KEY SHARE, so a concurrent cleanup cannot delete one it links.
 */
const APPEND_SQL = `with ch as (
  select owner_epoch, last_seq from channels where id = $1 for no key update
), now as (
  select date_trunc('milliseconds', clock_timestamp()) as ts
), k as (
  select * from unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $7::text[]) as k (ord, sender_id, client_msg_id, body, attachments)
), found as (
  -- One unique-index probe per key; LIMIT 1 keeps the lateral subquery
  -- from being flattened into a scan of the whole channel.
  select k.ord, m.seq, m.ts from k cross join lateral (
    select seq, ts from messages
    where channel_id = $1 and sender_id = k.sender_id and client_msg_id = k.client_msg_id limit 1
  ) as m
), fresh as (
  select k.*, row_number() over (order by k.ord) as n from k
  where not exists (select 1 from found where found.ord = k.ord)
), ins as (
  insert into messages (channel_id, seq, sender_id, client_msg_id, body, ts, attachments)
  select $1, ch.last_seq + fresh.n, fresh.sender_id, fresh.client_msg_id, fresh.body, now.ts, fresh.attachments::jsonb
  from fresh, ch, now where ch.owner_epoch = $6
  on conflict do nothing
  returning seq, attachments
), links as (
  insert into message_attachments (channel_id, seq, attachment_id)
  select $1, ins.seq, a.id from ins
  cross join lateral jsonb_array_elements(ins.attachments) as e
  cross join lateral (select id from attachments where id = e ->> 'id' for key share) as a
  where ins.attachments is not null
  on conflict do nothing
), upd as (
  update channels set last_seq = ch.last_seq + (select count(*) from ins)
  from ch where channels.id = $1 and ch.owner_epoch = $6
  returning channels.last_seq
)
select ch.owner_epoch, ch.last_seq as base, ${epochMs('now.ts')} as now_ms,
  (select coalesce(json_agg(json_build_array(found.ord, found.seq, ${epochMs('found.ts')})), '[]') from found) as found,
  -- Under the row lock nothing else can insert these keys; if a row was
  -- skipped anyway, fail the whole statement rather than leave a gap.
  case when ch.owner_epoch <> $6 or (select count(*) from ins) = (select count(*) from fresh)
    then 0 else ('append gap: ' || (select count(*) from ins))::int end as guard,
  (select count(*) from upd) as updated
from ch, now`;

export class MessageLog {
  constructor(private readonly sql: Sql) {}

  async activate(channelId: number, claimEpoch: number): Promise<{ epoch: number; lastSeq: number }> {
    // One statement: it waits for any in-flight commit of the old owner (row
    // lock), then raises the epoch and reads last_seq after that commit.
    const row = await this.sql.one(
      `update channels set owner_epoch = greatest(owner_epoch + 1, ?) where id = ? returning owner_epoch, last_seq`,
      [claimEpoch, channelId],
    );
    if (!row) throw new StoreError('not_found', `channel ${channelId} not found`);
    return { epoch: num(row.owner_epoch), lastSeq: num(row.last_seq) };
  }

  /**
   * One statement, so one round trip and a lock held only while PostgreSQL
   * runs it: lock the channel row, check the epoch, probe the idempotency key
   * of each message, number the new ones from last_seq + 1, insert them and
   * advance last_seq. A statement is atomic, so a failure anywhere (including
   * the gap guard) leaves nothing behind.
   */
  async append(channelId: number, epoch: number, batch: NewMessage[]): Promise<AppendOutcome[]> {
    if (batch.length === 0) return [];
    if (batch.length > MAX_APPEND_BATCH) throw new RangeError(`append batch of ${batch.length} exceeds ${MAX_APPEND_BATCH}`);
    const unique = new Map<string, NewMessage>();
    for (const m of batch) if (!unique.has(keyOf(m.senderId, m.cmid))) unique.set(keyOf(m.senderId, m.cmid), m);
    const keys = [...unique.values()];
    const [row] = await this.sql.prepared('tertulia_append', APPEND_SQL, [
      channelId,
      keys.map((_, i) => i),
      keys.map((m) => m.senderId),
      keys.map((m) => m.cmid),
      keys.map((m) => m.body),
      epoch,
      keys.map((m) => (m.attachments && m.attachments.length > 0 ? JSON.stringify(m.attachments) : null)),
    ]);
    if (!row) throw new StoreError('not_found', `channel ${channelId} not found`);
    if (num(row.owner_epoch) !== epoch) {
      throw new StoreError('fenced', `channel ${channelId} epoch is ${num(row.owner_epoch)}, writer has ${epoch}`);
    }
    const outcomes = new Map<string, AppendOutcome>();
    const foundByOrd = new Map<number, [number, number]>();
    const found = (typeof row.found === 'string' ? JSON.parse(row.found) : row.found) as [number, number, number][];
    for (const [ord, seq, ts] of found) foundByOrd.set(ord, [num(seq), num(ts)]);
    let seq = num(row.base);
    const nowMs = num(row.now_ms);
    keys.forEach((m, ord) => {
      const hit = foundByOrd.get(ord);
      outcomes.set(
        keyOf(m.senderId, m.cmid),
        hit ? { seq: hit[0], ts: hit[1], duplicate: true } : { seq: ++seq, ts: nowMs, duplicate: false },
      );
    });
    // A repeat of a key inside the batch is a duplicate of its first occurrence.
    const seen = new Set<string>();
    return batch.map((m) => {
      const key = keyOf(m.senderId, m.cmid);
      const outcome = outcomes.get(key)!;
      if (seen.has(key)) return { ...outcome, duplicate: true };
      seen.add(key);
      return outcome;
    });
  }

  async editMessage(channelId: number, epoch: number, seq: number, body: string): Promise<number> {
    return this.sql.transaction(async (tx) => {
      await this.fence(tx, channelId, epoch);
      const row = await this.sql.one(
        `update messages set body = ?, edited_at = date_trunc('milliseconds', clock_timestamp()), changed_at = clock_timestamp()
         where channel_id = ? and seq = ? and not deleted returning ${epochMs('edited_at')} as edited_ms`,
        [body, channelId, seq],
        tx,
      );
      if (!row) throw new StoreError('not_found', `message ${channelId}/${seq} not found`);
      return num(row.edited_ms);
    });
  }

  async deleteMessage(channelId: number, epoch: number, seq: number): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await this.fence(tx, channelId, epoch);
      const row = await this.sql.one(
        `update messages set body = '', attachments = null, deleted = true, changed_at = clock_timestamp()
         where channel_id = ? and seq = ? and not deleted returning seq`,
        [channelId, seq],
        tx,
      );
      if (!row) throw new StoreError('not_found', `message ${channelId}/${seq} not found`);
      // Its files are no longer posted here: readers lose access, cleanup may take them.
      await this.sql.query('delete from message_attachments where channel_id = ? and seq = ?', [channelId, seq], tx);
    });
  }

  async getMessage(channelId: number, seq: number): Promise<MessageRecord | null> {
    const row = await this.sql.one(
      `select ${MESSAGE_COLUMNS} from ${MESSAGE_FROM} where m.channel_id = ? and m.seq = ?`,
      [channelId, seq],
    );
    return row ? toMessage(row) : null;
  }

  /** With `after`: the oldest above it; otherwise the newest below `before`. Ascending seq either way. */
  async history(channelId: number, query: HistoryQuery): Promise<MessageRecord[]> {
    const limit = Math.max(0, Math.min(Math.floor(query.limit), MAX_HISTORY_PAGE));
    if (limit === 0) return [];
    const where = ['m.channel_id = ?'];
    const params: unknown[] = [channelId];
    if (query.after !== undefined) {
      where.push('m.seq > ?');
      params.push(query.after);
    }
    if (query.before !== undefined) {
      where.push('m.seq < ?');
      params.push(query.before);
    }
    const ascending = query.after !== undefined;
    const rows = await this.sql.query(
      `select ${MESSAGE_COLUMNS} from ${MESSAGE_FROM} where ${where.join(' and ')}
       order by m.seq ${ascending ? 'asc' : 'desc'} limit ${limit}`,
      params,
    );
    const messages = rows.map(toMessage);
    return ascending ? messages : messages.reverse();
  }

  async countMessages(channelId: number): Promise<number> {
    const row = await this.sql.one('select count(*) as n from messages where channel_id = ?', [channelId]);
    return num(row?.n ?? 0);
  }

  /**
   * Locks the channel row and checks the epoch. FOR NO KEY UPDATE is the lock
   * activate's UPDATE takes too, so it serialises appends and activation
   * exactly like FOR UPDATE, without blocking the foreign-key checks of
   * membership inserts into the same channel.
   */
  private async fence(tx: Tx, channelId: number, epoch: number): Promise<Fence> {
    const row = await this.sql.one(
      `select owner_epoch, last_seq from channels where id = ? for no key update`,
      [channelId],
      tx,
    );
    if (!row) throw new StoreError('not_found', `channel ${channelId} not found`);
    if (num(row.owner_epoch) !== epoch) {
      throw new StoreError('fenced', `channel ${channelId} epoch is ${num(row.owner_epoch)}, writer has ${epoch}`);
    }
    return { lastSeq: num(row.last_seq) };
  }
}

function keyOf(senderId: number, cmid: string): string {
  return `${senderId}\u0000${cmid}`;
}
