/**
 * The statements `tertulia restore` runs, one history segment per transaction.
 *
 * They bypass the Sql helper's inlined literals: a segment carries hundreds of
 * rows, which travel here as a few bind-parameter arrays that `unnest` turns
 * back into rows, so one statement per table whatever the segment's size.
 *
 * Message states only move forward in the live system (an edit raises
 * edited_at, a delete is final), so "the newest state" of a message is decided
 * from the state itself, not from which segment it came from: overlapping or
 * rewritten ranges, applied in any order, converge on the same row.
 */
import { randomBytes } from 'node:crypto';
import type { Segment } from '../snapshot/segment.js';
import type { Orm } from './orm.js';
import { translate, type Row } from './sql.js';

interface PgConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
}

interface PoolClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(conn: PgConnection): unknown;
}

/** A state of (body, edited_at, deleted) replaces the stored one only if it is newer. */
const NEWER = (stored: string, incoming: string): string => `(not ${stored}.deleted and (${incoming}.deleted
  or coalesce(${incoming}.edited_at, '-infinity') > coalesce(${stored}.edited_at, '-infinity')))`;

const USERS_SQL = `insert into users (id, name, password_hash, salt)
  select * from unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[])
  on conflict do nothing`;

// Name, topic and members are taken only from the newest segment written;
// last_seq and owner_epoch only ever rise.
const CHANNEL_SQL = `insert into channels (id, name, kind, topic, direct_key, last_seq, owner_epoch)
  values ($1, $2, $3, $4, $5, $6, $7)
  on conflict (id) do update set
    name = case when $8 then excluded.name else channels.name end,
    kind = case when $8 then excluded.kind else channels.kind end,
    topic = case when $8 then excluded.topic else channels.topic end,
    direct_key = case when $8 then excluded.direct_key else channels.direct_key end,
    last_seq = greatest(channels.last_seq, excluded.last_seq),
    owner_epoch = greatest(channels.owner_epoch, excluded.owner_epoch)`;

const DROP_MEMBERS_SQL = `delete from memberships where channel_id = $1 and not (user_id = any($2::bigint[]))`;

const MEMBERS_SQL = `insert into memberships (channel_id, user_id, role, last_read_seq)
  select $1, * from unnest($2::bigint[], $3::text[], $4::bigint[])
  on conflict (channel_id, user_id) do update set
    role = excluded.role,
    last_read_seq = greatest(memberships.last_read_seq, excluded.last_read_seq)`;

const MESSAGES_SQL = `with ins as (
  insert into messages as m (channel_id, seq, sender_id, client_msg_id, body, ts, edited_at, deleted, attachments)
  select $1, seq, sender, cmid, body, ts, edited_at, deleted, attachments::jsonb
  from unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::bool[], $9::text[])
    as r (seq, sender, cmid, body, ts, edited_at, deleted, attachments)
  on conflict (channel_id, seq) do update set
    body = excluded.body, edited_at = excluded.edited_at, deleted = excluded.deleted, attachments = excluded.attachments
  where ${NEWER('m', 'excluded')}
  returning (xmax = 0) as fresh
) select count(*) filter (where fresh) as inserted from ins`;

const AMEND_SQL = `update messages as m set body = a.body, edited_at = a.edited_at, deleted = a.deleted,
    attachments = case when a.deleted then null else m.attachments end
  from unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::bool[]) as a (seq, body, edited_at, deleted)
  where m.channel_id = $1 and m.seq = a.seq and ${NEWER('m', 'a')}`;

// An attachment's row, from the first message seen carrying it: its bytes are
// still in the blob store under attachments/<id>; its uploader is the sender.
const ATTACHMENTS_SQL = `insert into attachments (id, uploader_id, name, content_type, size, sha256, state, created_at, stored_at)
  select id, uploader, name, type, size, decode(sha256, 'hex'), 'stored', ts, ts
  from unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[])
    as a (id, uploader, name, type, size, sha256, ts)
  on conflict (id) do nothing`;

// Links follow the messages' final state in the seq range: tombstones carry none.
const UNLINK_SQL = `delete from message_attachments ma using messages m
  where ma.channel_id = $1 and m.channel_id = $1 and ma.seq = m.seq and m.seq = any($2::bigint[]) and m.attachments is null`;
const LINK_SQL = `insert into message_attachments (channel_id, seq, attachment_id)
  select m.channel_id, m.seq, e ->> 'id' from messages m cross join lateral jsonb_array_elements(m.attachments) as e
  where m.channel_id = $1 and m.seq = any($2::bigint[]) and m.attachments is not null
  on conflict do nothing`;

// created_at is the segment's write time: it decides "newest" above. Every
// segment has a key of its own, which is what marks it applied.
const RECORD_SQL = `insert into snapshots (channel_id, from_seq, to_seq, key, epoch, messages, amendments, bytes, created_at)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  on conflict (channel_id, key) do nothing`;

/** Where a segment is, as its key tells. */
export interface SegmentRef {
  channel: number;
  key: string;
  from: number;
  to: number;
  written: number;
}

export interface AppliedSegment {
  /** Messages that were not stored before. */
  inserted: number;
  /** Users created as placeholders. */
  users: number;
}

export class RestoreSql {
  private readonly pool: PoolClient;
  /** Users this process has already written; spares an upsert per segment for each. */
  private readonly knownUsers = new Set<number>();

  constructor(orm: Orm) {
    this.pool = orm.em.getConnection().getKnex().client as unknown as PoolClient;
  }

  /** A test for "already applied": its key is recorded. */
  async applied(): Promise<(s: SegmentRef) => boolean> {
    const { rows } = await this.run((c) => c.query(`select key from snapshots`));
    const keys = new Set(rows.map((r) => r.key as string));
    return (s) => keys.has(s.key);
  }

  async hasMessages(): Promise<boolean> {
    const rows = await this.run((c) => c.query('select exists (select 1 from messages) as any'));
    return rows.rows[0]?.any === true;
  }

  /** Applies one segment and records it, in one transaction. */
  async apply(key: string, s: Segment, bytes: number): Promise<AppliedSegment> {
    return this.run(async (c) => {
      await c.query('begin');
      try {
        const out = await this.applyIn(c, key, s, bytes);
        await c.query('commit');
        for (const id of out.written) this.knownUsers.add(id);
        return { inserted: out.inserted, users: out.users };
      } catch (err) {
        await c.query('rollback').catch(() => {});
        throw err;
      }
    });
  }

  /**
   * Moves the users and channels identity sequences past the largest id, so
   * rows created after the restore do not collide with restored ones.
   */
  async advanceIdentities(): Promise<void> {
    await this.run(async (c) => {
      for (const table of ['users', 'channels']) {
        // With no rows, setval(…, 1, false) makes the next id 1.
        await c.query(
          `select setval(pg_get_serial_sequence('${table}', 'id'), greatest(m, 1), m > 0)
           from (select coalesce(max(id), 0) as m from ${table}) as t`,
        );
      }
    });
  }

  private async applyIn(c: PgConnection, key: string, s: Segment, bytes: number) {
    const ch = s.channel;
    const people = new Map<number, string>();
    for (const m of s.members) people.set(m.user, m.name);
    for (const u of s.senders) people.set(u.user, u.name);
    const fresh = [...people.keys()].filter((id) => !this.knownUsers.has(id)).sort((a, b) => a - b);
    let users = 0;
    if (fresh.length > 0) {
      // A random hash and salt: no password can match, so every restored user must set one again.
      const r = await c.query(USERS_SQL, [fresh, fresh.map((id) => people.get(id)), fresh.map(() => randomBytes(32)), fresh.map(() => randomBytes(16))]);
      users = r.rowCount ?? 0;
    }
    const newest = await c.query('select coalesce(max(created_at) <= $2, true) as newest from snapshots where channel_id = $1', [ch.id, new Date(s.written)]);
    const isNewest = newest.rows[0]?.newest === true;
    const top = s.messages.length > 0 ? s.messages[s.messages.length - 1]!.seq : 0;
    await c.query(CHANNEL_SQL, [ch.id, ch.name, ch.kind, ch.topic, ch.directKey, top, s.epoch, isNewest]);
    if (isNewest) {
      const ids = s.members.map((m) => m.user);
      await c.query(DROP_MEMBERS_SQL, [ch.id, ids]);
      if (ids.length > 0) await c.query(MEMBERS_SQL, [ch.id, ids, s.members.map((m) => m.role), s.members.map((m) => m.lastReadSeq)]);
    }
    let inserted = 0;
    if (s.messages.length > 0) {
      const m = s.messages;
      const r = await c.query(MESSAGES_SQL, [
        ch.id,
        m.map((x) => x.seq),
        m.map((x) => x.sender),
        m.map((x) => x.cmid),
        m.map((x) => x.body),
        m.map((x) => iso(x.ts)),
        m.map((x) => (x.edited === undefined ? null : iso(x.edited))),
        m.map((x) => x.deleted === true),
        m.map((x) => (x.attachments?.length ? JSON.stringify(x.attachments) : null)),
      ]);
      inserted = Number(r.rows[0]?.inserted ?? 0);
    }
    if (s.amendments.length > 0) {
      const a = s.amendments;
      await c.query(AMEND_SQL, [ch.id, a.map((x) => x.seq), a.map((x) => x.body), a.map((x) => (x.edited === undefined ? null : iso(x.edited))), a.map((x) => x.deleted === true)]);
    }
    await this.linkAttachments(c, s);
    await c.query(RECORD_SQL, [ch.id, s.from, s.to, key, s.epoch, s.messages.length, s.amendments.length, bytes, new Date(s.written)]);
    return { inserted, users, written: fresh };
  }

  /** Attachment rows for the files the segment's messages carry, and links that match the messages' state. */
  private async linkAttachments(c: PgConnection, s: Segment): Promise<void> {
    const files = new Map<string, { sender: number; ts: number; a: NonNullable<Segment['messages'][number]['attachments']>[number] }>();
    for (const m of s.messages) for (const a of m.attachments ?? []) if (!files.has(a.id)) files.set(a.id, { sender: m.sender, ts: m.ts, a });
    const seqs = [...s.messages.map((m) => m.seq), ...s.amendments.map((a) => a.seq)];
    if (files.size > 0) {
      const f = [...files.values()];
      await c.query(ATTACHMENTS_SQL, [
        f.map((x) => x.a.id),
        f.map((x) => x.sender),
        f.map((x) => x.a.name),
        f.map((x) => x.a.type),
        f.map((x) => x.a.size),
        f.map((x) => x.a.sha256),
        f.map((x) => iso(x.ts)),
      ]);
      await c.query(LINK_SQL, [s.channel.id, s.messages.filter((m) => m.attachments?.length).map((m) => m.seq)]);
    }
    if (s.amendments.some((a) => a.deleted) || files.size > 0) await c.query(UNLINK_SQL, [s.channel.id, seqs]);
  }

  private async run<T>(fn: (c: PgConnection) => Promise<T>): Promise<T> {
    let conn: PgConnection;
    try {
      conn = await this.pool.acquireConnection();
    } catch (err) {
      throw translate(err);
    }
    try {
      return await fn(conn);
    } catch (err) {
      throw translate(err);
    } finally {
      this.pool.releaseConnection(conn);
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
