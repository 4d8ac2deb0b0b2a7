/**
 * The fenced message log of a channel: activation, group-commit append,
 * edit/delete, and history reads. Only a channel's owning actor writes here;
 * every write checks that `owner_epoch` still equals the epoch the owner got
 * from `activate`, under a row lock on the channel, so a paused or partitioned
 * old owner can no longer write once a new owner has activated.
 */
import { StoreError, type AppendOutcome, type HistoryQuery, type MessageRecord, type NewMessage } from '../ports.js';
import { MESSAGE_COLUMNS, MESSAGE_FROM, toMessage } from './rows.js';
import { epochMs, isoTime, num, tuples, type Sql, type Tx } from './sql.js';

/** Largest batch one append accepts; the actor's pending batch is capped well below this. */
export const MAX_APPEND_BATCH = 5000;
/** Largest history page, whatever the caller asks for. */
export const MAX_HISTORY_PAGE = 1000;

interface Fence {
  lastSeq: number;
  /** The database clock, read after the lock is granted: the batch's commit stamp. */
  nowMs: number;
}

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

  async append(channelId: number, epoch: number, batch: NewMessage[]): Promise<AppendOutcome[]> {
    if (batch.length === 0) return [];
    if (batch.length > MAX_APPEND_BATCH) throw new RangeError(`append batch of ${batch.length} exceeds ${MAX_APPEND_BATCH}`);
    const unique = new Map<string, NewMessage>();
    for (const m of batch) if (!unique.has(keyOf(m.senderId, m.cmid))) unique.set(keyOf(m.senderId, m.cmid), m);

    const outcomes = await this.sql.transaction(async (tx) => {
      const fence = await this.fence(tx, channelId, epoch);
      const found = new Map<string, AppendOutcome>();
      const candidates = [...unique.values()];
      const stored = await this.sql.query(
        // One unique-index probe per key. An IN list or a plain join lets the
        // planner scan every row of the channel (it did, growing with the
        // channel); LIMIT 1 keeps the lateral subquery from being flattened.
        `select k.sender_id, k.client_msg_id, m.seq, ${epochMs('m.ts')} as ts_ms
         from (values ${tuples(candidates.length, 2)}) as k (sender_id, client_msg_id)
         cross join lateral (
           select seq, ts from messages
           where channel_id = ? and sender_id = k.sender_id::bigint and client_msg_id = k.client_msg_id
           limit 1
         ) as m`,
        [...candidates.flatMap((m) => [m.senderId, m.cmid]), channelId],
        tx,
      );
      for (const row of stored) {
        found.set(keyOf(num(row.sender_id), row.client_msg_id as string), {
          seq: num(row.seq),
          ts: num(row.ts_ms),
          duplicate: true,
        });
      }
      const fresh = candidates.filter((m) => !found.has(keyOf(m.senderId, m.cmid)));
      if (fresh.length > 0) await this.insert(tx, channelId, fence, fresh, found);
      return found;
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

  /** Inserts `fresh` with seqs from last_seq + 1 and advances last_seq, recording each outcome. */
  private async insert(tx: Tx, channelId: number, fence: Fence, fresh: NewMessage[], outcomes: Map<string, AppendOutcome>): Promise<void> {
    const ts = isoTime(fence.nowMs);
    let seq = fence.lastSeq;
    const values: unknown[] = [];
    for (const m of fresh) {
      seq += 1;
      values.push(channelId, seq, m.senderId, m.cmid, m.body, ts);
      outcomes.set(keyOf(m.senderId, m.cmid), { seq, ts: fence.nowMs, duplicate: false });
    }
    const row = await this.sql.one(
      `with ins as (
         insert into messages (channel_id, seq, sender_id, client_msg_id, body, ts)
         values ${tuples(fresh.length, 6)}
         on conflict do nothing
         returning 1
       )
       update channels set last_seq = ? where id = ? returning (select count(*) from ins) as inserted`,
      [...values, seq, channelId],
      tx,
    );
    // Under the channel lock nothing else can have inserted these keys; if a row
    // was skipped anyway, committing would leave a gap in the seqs.
    if (num(row?.inserted) !== fresh.length) {
      throw new Error(`append to channel ${channelId}: ${num(row?.inserted)} of ${fresh.length} rows inserted`);
    }
  }

  async editMessage(channelId: number, epoch: number, seq: number, body: string): Promise<number> {
    return this.sql.transaction(async (tx) => {
      await this.fence(tx, channelId, epoch);
      const row = await this.sql.one(
        `update messages set body = ?, edited_at = date_trunc('milliseconds', clock_timestamp())
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
        `update messages set body = '', deleted = true where channel_id = ? and seq = ? and not deleted returning seq`,
        [channelId, seq],
        tx,
      );
      if (!row) throw new StoreError('not_found', `message ${channelId}/${seq} not found`);
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
      `select owner_epoch, last_seq,
         ${epochMs(`date_trunc('milliseconds', clock_timestamp())`)} as now_ms
       from channels where id = ? for no key update`,
      [channelId],
      tx,
    );
    if (!row) throw new StoreError('not_found', `channel ${channelId} not found`);
    if (num(row.owner_epoch) !== epoch) {
      throw new StoreError('fenced', `channel ${channelId} epoch is ${num(row.owner_epoch)}, writer has ${epoch}`);
    }
    return { lastSeq: num(row.last_seq), nowMs: num(row.now_ms) };
  }
}

function keyOf(senderId: number, cmid: string): string {
  return `${senderId}\u0000${cmid}`;
}
