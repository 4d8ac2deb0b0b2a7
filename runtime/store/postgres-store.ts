/**
 * The Store on PostgreSQL through MikroORM's connection. Each call is a short
 * statement or transaction on the shared pool; nothing is kept in an identity
 * map, so no call needs its own EntityManager fork. The message log (the hot,
 * fenced write path) lives in MessageLog.
 */
import type { Role } from '../../protocol/messages.js';
import {
  StoreError,
  type AppendOutcome,
  type AttachmentLog,
  type ChannelRecord,
  type CredentialRecord,
  type HistoryQuery,
  type MembershipRecord,
  type MessageRecord,
  type NewMessage,
  type SessionRecord,
  type SnapshotLog,
  type Store,
  type UserChannelRecord,
  type UserRecord,
} from '../ports.js';
import { MessageLog } from './message-log.js';
import { PgSnapshotLog } from './snapshot-log.js';
import { PgAttachmentLog } from './attachment-log.js';
import { openMigratedOrm, type Orm, type OrmOptions } from './orm.js';
import { CHANNEL_COLUMNS, toChannel, toMember, toUserChannel } from './rows.js';
import { epochMs, isoTime, num, Sql } from './sql.js';

/**
 * Combined append statements running at once: a second one lets a group
 * leave while the first is in flight, and the rest of the pool stays free for
 * reads and sessions (one and two measured alike at 5,000 msg/s).
 */
const APPENDS_IN_FLIGHT = 2;

function appendsInFlight(orm: Orm): number {
  const pool = (orm.config.get('pool') as { max?: number } | undefined)?.max ?? 1;
  return Math.max(1, Math.min(pool, APPENDS_IN_FLIGHT));
}

/** Largest page of findPublic, whatever the caller asks for. */
export const MAX_FIND_PAGE = 200;

export class PostgresStore implements Store {
  private readonly sql: Sql;
  private readonly log: MessageLog;
  /** History snapshots' reads and records. */
  readonly snapshots: SnapshotLog;
  /** Uploads, links and cleanup of attachments. */
  readonly attachments: AttachmentLog;

  /** Wraps an open ORM; `ownsOrm` makes close() close it too. */
  constructor(private readonly orm: Orm, private readonly ownsOrm = false) {
    this.sql = new Sql(orm);
    this.log = new MessageLog(this.sql, appendsInFlight(orm));
    this.snapshots = new PgSnapshotLog(this.sql);
    this.attachments = new PgAttachmentLog(this.sql);
  }

  /** Opens the database at `options.url`, applies pending migrations, and owns the ORM. */
  static async open(options: OrmOptions): Promise<PostgresStore> {
    return new PostgresStore(await openMigratedOrm(options), true);
  }

  // users and sessions

  async createUser(name: string, passwordHash: Buffer, salt: Buffer): Promise<UserRecord> {
    const row = await this.sql.one(
      'insert into users (name, password_hash, salt) values (?, ?, ?) returning id, name',
      [name, passwordHash, salt],
    );
    return { id: num(row!.id), name: row!.name as string };
  }

  async findCredentials(name: string): Promise<CredentialRecord | null> {
    const row = await this.sql.one('select id, name, password_hash, salt from users where name = ?', [name]);
    if (!row) return null;
    return { id: num(row.id), name: row.name as string, passwordHash: row.password_hash as Buffer, salt: row.salt as Buffer };
  }

  async findUser(name: string): Promise<UserRecord | null> {
    const row = await this.sql.one('select id, name from users where name = ?', [name]);
    return row ? { id: num(row.id), name: row.name as string } : null;
  }

  async getUser(id: number): Promise<UserRecord | null> {
    const row = await this.sql.one('select id, name from users where id = ?', [id]);
    return row ? { id: num(row.id), name: row.name as string } : null;
  }

  async createSession(userId: number, tokenHash: Buffer, expiresAt: number): Promise<void> {
    await this.sql.query('insert into sessions (token_hash, user_id, expires_at) values (?, ?, ?)', [
      tokenHash,
      userId,
      isoTime(expiresAt),
    ]);
  }

  async findSession(tokenHash: Buffer, now: number): Promise<SessionRecord | null> {
    return (await this.findSessions([tokenHash], now))[0] ?? null;
  }

  async findSessions(tokenHashes: Buffer[], now: number): Promise<(SessionRecord | null)[]> {
    if (tokenHashes.length === 0) return [];
    // Prepared, with the hashes as one array: a crowd reconnecting at once is one statement.
    const rows = await this.sql.prepared(
      'tertulia_find_sessions',
      `select s.token_hash, s.user_id, u.name, ${epochMs('s.expires_at')} as expires_ms
       from sessions s join users u on u.id = s.user_id
       where s.token_hash = any($1::bytea[]) and s.expires_at > $2`,
      [tokenHashes, isoTime(now)],
    );
    const found = new Map<string, SessionRecord>();
    for (const row of rows) {
      found.set((row.token_hash as Buffer).toString('hex'), { userId: num(row.user_id), name: row.name as string, expiresAt: num(row.expires_ms) });
    }
    return tokenHashes.map((h) => found.get(h.toString('hex')) ?? null);
  }

  async deleteSession(tokenHash: Buffer): Promise<void> {
    await this.sql.query('delete from sessions where token_hash = ?', [tokenHash]);
  }

  // channels and memberships

  async createChannel(name: string, kind: 'public' | 'private', topic: string, creatorId: number): Promise<ChannelRecord> {
    return this.sql.transaction(async (tx) => {
      const row = await this.sql.one(
        `insert into channels as c (name, kind, topic) values (?, ?, ?) returning ${CHANNEL_COLUMNS}`,
        [name, kind, topic],
        tx,
      );
      const channel = toChannel(row!);
      await this.sql.query(`insert into memberships (channel_id, user_id, role) values (?, ?, 'owner')`, [channel.id, creatorId], tx);
      return channel;
    });
  }

  async openDirect(a: number, b: number): Promise<ChannelRecord> {
    const key = `${Math.min(a, b)}:${Math.max(a, b)}`;
    const created = await this.sql.transaction(async (tx) => {
      // A racing caller's insert makes this one wait for its commit, then do
      // nothing; the select below then sees the winner's channel.
      const row = await this.sql.one(
        `insert into channels as c (kind, direct_key) values ('direct', ?)
         on conflict (direct_key) do nothing returning ${CHANNEL_COLUMNS}`,
        [key],
        tx,
      );
      if (!row) return null;
      const channel = toChannel(row);
      await this.sql.query(
        `insert into memberships (channel_id, user_id, role) values (?, ?, 'member'), (?, ?, 'member') on conflict do nothing`,
        [channel.id, a, channel.id, b],
        tx,
      );
      return channel;
    });
    if (created) return created;
    const row = await this.sql.one(`select ${CHANNEL_COLUMNS} from channels c where c.direct_key = ?`, [key]);
    if (!row) throw new StoreError('not_found', `direct channel ${key} vanished`);
    return toChannel(row);
  }

  async getChannel(id: number): Promise<ChannelRecord | null> {
    const row = await this.sql.one(`select ${CHANNEL_COLUMNS} from channels c where c.id = ?`, [id]);
    return row ? toChannel(row) : null;
  }

  async getChannelByName(name: string): Promise<ChannelRecord | null> {
    const row = await this.sql.one(`select ${CHANNEL_COLUMNS} from channels c where c.name = ?`, [name]);
    return row ? toChannel(row) : null;
  }

  async findPublic(prefix: string, limit: number): Promise<ChannelRecord[]> {
    const page = Math.max(0, Math.min(Math.floor(limit), MAX_FIND_PAGE));
    if (page === 0) return [];
    const pattern = prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`) + '%';
    const rows = await this.sql.query(
      `select ${CHANNEL_COLUMNS} from channels c where c.kind = 'public' and c.name like ? order by c.name limit ${page}`,
      [pattern],
    );
    return rows.map(toChannel);
  }

  async listForUser(userId: number): Promise<UserChannelRecord[]> {
    // The peer of a direct channel is the other member (oneself for a self-chat).
    const rows = await this.sql.query(
      `select ${CHANNEL_COLUMNS}, m.role, m.last_read_seq,
         case when c.kind = 'direct' then (
           select u.name from memberships o join users u on u.id = o.user_id
           where o.channel_id = c.id order by o.user_id = m.user_id limit 1
         ) end as peer
       from memberships m join channels c on c.id = m.channel_id
       where m.user_id = ? order by c.id`,
      [userId],
    );
    return rows.map(toUserChannel);
  }

  async members(channelId: number): Promise<MembershipRecord[]> {
    const rows = await this.sql.query(
      `select m.channel_id, m.user_id, u.name, m.role, m.last_read_seq
       from memberships m join users u on u.id = m.user_id
       where m.channel_id = ? order by m.joined_at, m.user_id`,
      [channelId],
    );
    return rows.map(toMember);
  }

  async putMember(channelId: number, userId: number, role: Role): Promise<void> {
    await this.sql.query(
      `insert into memberships (channel_id, user_id, role) values (?, ?, ?)
       on conflict (channel_id, user_id) do update set role = excluded.role`,
      [channelId, userId, role],
    );
  }

  async removeMember(channelId: number, userId: number): Promise<void> {
    await this.sql.query('delete from memberships where channel_id = ? and user_id = ?', [channelId, userId]);
  }

  async markRead(channelId: number, userId: number, seq: number): Promise<number> {
    const row = await this.sql.one(
      `update memberships set last_read_seq = greatest(last_read_seq, ?)
       where channel_id = ? and user_id = ? returning last_read_seq`,
      [seq, channelId, userId],
    );
    if (!row) throw new StoreError('not_found', `user ${userId} is not a member of channel ${channelId}`);
    return num(row.last_read_seq);
  }

  // messages: the fenced log

  activate(channelId: number, claimEpoch: number): Promise<{ epoch: number; lastSeq: number }> {
    return this.log.activate(channelId, claimEpoch);
  }

  append(channelId: number, epoch: number, batch: NewMessage[]): Promise<AppendOutcome[]> {
    return this.log.append(channelId, epoch, batch);
  }

  editMessage(channelId: number, epoch: number, seq: number, body: string): Promise<number> {
    return this.log.editMessage(channelId, epoch, seq, body);
  }

  deleteMessage(channelId: number, epoch: number, seq: number): Promise<void> {
    return this.log.deleteMessage(channelId, epoch, seq);
  }

  getMessage(channelId: number, seq: number): Promise<MessageRecord | null> {
    return this.log.getMessage(channelId, seq);
  }

  history(channelId: number, query: HistoryQuery): Promise<MessageRecord[]> {
    return this.log.history(channelId, query);
  }

  countMessages(channelId: number): Promise<number> {
    return this.log.countMessages(channelId);
  }

  async close(): Promise<void> {
    if (this.ownsOrm) await this.orm.close(true);
  }
}
