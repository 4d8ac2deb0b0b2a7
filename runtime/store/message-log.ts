/**
 * The fenced message log of a channel: activation, group-commit append,
 * edit/delete, and history reads. Only a channel's owning actor writes here;
 * every write checks that `owner_epoch` still equals the epoch the owner got
 * from `activate`, under a row lock on the channel, so a paused or partitioned
 * old owner can no longer write once a new owner has activated.
 */
import { TurnBatcher } from '../turn-batcher.js';
import { appendMany, MAX_APPEND_ROWS, type AppendRequest } from './append-sql.js';
import { StoreError, type AppendOutcome, type HistoryQuery, type MessageRecord, type NewMessage } from '../ports.js';
import { MESSAGE_COLUMNS, MESSAGE_FROM, toMessage } from './rows.js';
import { epochMs, num, translate, type Sql, type Tx } from './sql.js';

/** Largest batch one append accepts; the actor's pending batch is capped well below this. */
export const MAX_APPEND_BATCH = MAX_APPEND_ROWS;
/** Largest history page, whatever the caller asks for. */
export const MAX_HISTORY_PAGE = 1000;

interface Fence {
  lastSeq: number;
}

export class MessageLog {
  private readonly appends: TurnBatcher<AppendRequest, AppendOutcome[]>;

  /** `appendsInFlight`: combined append statements running at once (at most the pool's size). */
  constructor(private readonly sql: Sql, appendsInFlight: number) {
    this.appends = new TurnBatcher((requests) => appendMany(this.sql, requests), {
      maxInFlight: appendsInFlight,
      maxWeight: MAX_APPEND_ROWS,
      weight: (r) => r.batch.length,
      // One statement at a time per channel: its batches commit in the order asked.
      key: (r) => r.channelId,
    });
  }

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
   * One statement, so one round trip and locks held only while PostgreSQL
   * runs it: lock the channel row, check the epoch, probe the idempotency key
   * of each message, number the new ones from last_seq + 1, insert them and
   * advance last_seq. Appends of other channels requested in the same turn
   * share the statement (append-sql.ts); each is fenced on its own. A
   * statement is atomic, so a failure anywhere leaves nothing behind.
   */
  async append(channelId: number, epoch: number, batch: NewMessage[]): Promise<AppendOutcome[]> {
    if (batch.length === 0) return [];
    if (batch.length > MAX_APPEND_BATCH) throw new RangeError(`append batch of ${batch.length} exceeds ${MAX_APPEND_BATCH}`);
    try {
      return await this.appends.submit({ channelId, epoch, batch });
    } catch (err) {
      throw translate(err);
    }
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
