/**
 * The fenced append of several channels' batches in one statement. A pod's
 * channel actors each have at most one append in flight; a TurnBatcher
 * gathers the ones that are ready in the same event-loop turn and this
 * statement commits them together, so the database sees one round trip per
 * turn instead of one per channel. Each channel is still fenced on its own:
 * a stale epoch or a missing channel refuses that channel's batch and leaves
 * the others to commit.
 */
import { StoreError, type AppendOutcome, type NewMessage } from '../ports.js';
import type { Settled } from '../turn-batcher.js';
import { epochMs, num, type Sql } from './sql.js';

/** One channel's batch in a combined append. */
export interface AppendRequest {
  channelId: number;
  epoch: number;
  batch: NewMessage[];
}


/**
 * $1/$2 the channels and their writers' epochs; $3..$8 the messages as
 * parallel arrays (position, channel, sender, cmid, body, attachments as JSON
 * text or null). Its text is fixed whatever the sizes, so it is planned once
 * per connection. Channel rows are locked in id order, so two pods' combined
 * appends (during a handoff both may touch one channel) cannot deadlock.
 * Each inserted message links its attachments under FOR KEY SHARE, so a
 * concurrent cleanup cannot delete one it links.
 */
const APPEND_MANY_SQL = `with req as (
  select * from unnest($1::bigint[], $2::bigint[]) as r (channel_id, epoch)
), locked as (
  select c.id, c.owner_epoch, c.last_seq from channels c
  where c.id = any($1::bigint[]) order by c.id for no key update
), ch as (
  select locked.*, req.epoch, locked.owner_epoch = req.epoch as ok
  from locked join req on req.channel_id = locked.id
), now as (
  select date_trunc('milliseconds', clock_timestamp()) as ts
), k as (
  select * from unnest($3::int[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[])
    as k (ord, channel_id, sender_id, client_msg_id, body, attachments)
), found as (
  -- One unique-index probe per key; LIMIT 1 keeps the lateral subquery
  -- from being flattened into a scan of the whole channel.
  select k.ord, m.seq, m.ts from k cross join lateral (
    select seq, ts from messages
    where channel_id = k.channel_id and sender_id = k.sender_id and client_msg_id = k.client_msg_id limit 1
  ) as m
), fresh as (
  select k.*, row_number() over (partition by k.channel_id order by k.ord) as n
  from k join ch on ch.id = k.channel_id and ch.ok
  where not exists (select 1 from found where found.ord = k.ord)
), ins as (
  insert into messages (channel_id, seq, sender_id, client_msg_id, body, ts, attachments)
  select fresh.channel_id, ch.last_seq + fresh.n, fresh.sender_id, fresh.client_msg_id, fresh.body, now.ts, fresh.attachments::jsonb
  from fresh join ch on ch.id = fresh.channel_id cross join now
  on conflict do nothing
  returning channel_id, seq, attachments
), links as (
  insert into message_attachments (channel_id, seq, attachment_id)
  select ins.channel_id, ins.seq, a.id from ins
  cross join lateral jsonb_array_elements(ins.attachments) as e
  cross join lateral (select id from attachments where id = e ->> 'id' for key share) as a
  where ins.attachments is not null
  on conflict do nothing
), counts as (
  select channel_id, count(*) as n from ins group by channel_id
), upd as (
  update channels set last_seq = ch.last_seq + counts.n
  from ch join counts on counts.channel_id = ch.id
  where channels.id = ch.id and ch.ok
  returning channels.id
)
select ${epochMs('now.ts')} as now_ms,
  (select coalesce(json_agg(json_build_array(ch.id, ch.owner_epoch, ch.last_seq)), '[]') from ch) as channels,
  (select coalesce(json_agg(json_build_array(found.ord, found.seq, ${epochMs('found.ts')})), '[]') from found) as found,
  -- Under the row locks nothing else can insert these keys; if a row was
  -- skipped anyway, fail the whole statement rather than leave a gap.
  case when (select count(*) from ins) = (select count(*) from fresh)
    then 0 else ('append gap: ' || (select count(*) from ins))::int end as guard,
  (select count(*) from upd) as updated
from now`;

/** Largest number of messages one combined statement carries. */
export const MAX_APPEND_ROWS = 5000;

/**
 * Commits every request in one statement. Requests must name distinct
 * channels. A failure of the statement itself (the database gone, say)
 * rejects; refusals of single channels come back in their results.
 */
export async function appendMany(sql: Sql, requests: readonly AppendRequest[]): Promise<Settled<AppendOutcome[]>[]> {
  const channels: number[] = [];
  const epochs: number[] = [];
  const ords: number[] = [];
  const channelOf: number[] = [];
  const senders: number[] = [];
  const cmids: string[] = [];
  const bodies: string[] = [];
  const files: (string | null)[] = [];
  // Per request, its distinct (sender, cmid) keys and the position of the first of each.
  const keyed: Map<string, number>[] = [];
  for (const r of requests) {
    channels.push(r.channelId);
    epochs.push(r.epoch);
    const keys = new Map<string, number>();
    for (const m of r.batch) {
      const key = keyOf(m.senderId, m.cmid);
      if (keys.has(key)) continue;
      keys.set(key, ords.length);
      ords.push(ords.length);
      channelOf.push(r.channelId);
      senders.push(m.senderId);
      cmids.push(m.cmid);
      bodies.push(m.body);
      files.push(m.attachments && m.attachments.length > 0 ? JSON.stringify(m.attachments) : null);
    }
    keyed.push(keys);
  }
  if (ords.length > MAX_APPEND_ROWS) throw new RangeError(`append of ${ords.length} messages exceeds ${MAX_APPEND_ROWS}`);
  const [row] = await sql.prepared('tertulia_append_many', APPEND_MANY_SQL, [channels, epochs, ords, channelOf, senders, cmids, bodies, files]);
  if (!row) throw new Error('append returned no row');

  const state = new Map<number, { epoch: number; base: number }>();
  for (const [id, epoch, base] of parseJson<[number, number, number][]>(row.channels)) state.set(num(id), { epoch: num(epoch), base: num(base) });
  const found = new Map<number, AppendOutcome>();
  for (const [ord, seq, ts] of parseJson<[number, number, number][]>(row.found)) found.set(ord, { seq: num(seq), ts: num(ts), duplicate: true });
  const nowMs = num(row.now_ms);

  return requests.map((r, i): Settled<AppendOutcome[]> => {
    const s = state.get(r.channelId);
    if (!s) return { ok: false, error: new StoreError('not_found', `channel ${r.channelId} not found`) };
    if (s.epoch !== r.epoch) {
      return { ok: false, error: new StoreError('fenced', `channel ${r.channelId} epoch is ${s.epoch}, writer has ${r.epoch}`) };
    }
    // Fresh keys were numbered from last_seq + 1 in position order, as here.
    let seq = s.base;
    const byKey = new Map<string, AppendOutcome>();
    for (const [key, ord] of keyed[i]!) byKey.set(key, found.get(ord) ?? { seq: ++seq, ts: nowMs, duplicate: false });
    // A repeat of a key inside the batch is a duplicate of its first occurrence.
    const seen = new Set<string>();
    const outcomes = r.batch.map((m) => {
      const key = keyOf(m.senderId, m.cmid);
      const outcome = byKey.get(key)!;
      if (seen.has(key)) return { ...outcome, duplicate: true };
      seen.add(key);
      return outcome;
    });
    return { ok: true, value: outcomes };
  });
}

function parseJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

function keyOf(senderId: number, cmid: string): string {
  return `${senderId}\u0000${cmid}`;
}
