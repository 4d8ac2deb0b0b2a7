/**
 * What a restore test compares: a database's users, channels, memberships and
 * messages, read with plain SQL, and the same shape built from a simulated
 * history's final state.
 */
import pg from 'pg';
import type { History } from '../harness/history.js';

export interface State {
  users: { id: number; name: string }[];
  channels: { id: number; name: string | null; kind: string; topic: string; directKey: string | null; lastSeq: number; ownerEpoch: number }[];
  members: { channel: number; user: number; role: string; lastReadSeq: number }[];
  messages: { channel: number; seq: number; sender: number; cmid: string; body: string; ts: number; edited: number | null; deleted: boolean }[];
}

const ms = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;

export async function databaseState(url: string): Promise<State> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async <T>(text: string): Promise<T[]> => (await client.query(text)).rows as T[];
    return {
      users: await q(`select id::int, name from users order by id`),
      channels: await q(`select id::int, name, kind, topic, direct_key as "directKey", last_seq::int as "lastSeq", owner_epoch::int as "ownerEpoch" from channels order by id`),
      members: await q(`select channel_id::int as channel, user_id::int as user, role, last_read_seq::int as "lastReadSeq" from memberships order by channel_id, user_id`),
      messages: await q(`select channel_id::int as channel, seq::int, sender_id::int as sender, client_msg_id as cmid, body,
        ${ms('ts')} as ts, ${ms('edited_at')} as edited, deleted from messages order by channel_id, seq`),
    };
  } finally {
    await client.end();
  }
}

export function expectedState(h: History): State {
  const epochs = new Map<number, number>();
  for (const { segment } of h.segments) epochs.set(segment.channel.id, Math.max(epochs.get(segment.channel.id) ?? 0, segment.epoch));
  return {
    users: [...h.users].map(([id, name]) => ({ id, name })).sort((a, b) => a.id - b.id),
    channels: h.channels.map((c) => ({
      id: c.id,
      name: c.name,
      kind: c.kind,
      topic: c.topic,
      directKey: c.directKey,
      lastSeq: c.messages.length,
      ownerEpoch: epochs.get(c.id)!,
    })),
    members: h.channels.flatMap((c) => c.members.map((m) => ({ channel: c.id, user: m.user, role: m.role, lastReadSeq: m.lastReadSeq }))),
    messages: h.channels.flatMap((c) =>
      c.messages.map((m) => ({
        channel: c.id,
        seq: m.seq,
        sender: m.sender,
        cmid: m.cmid,
        body: m.body,
        ts: m.ts,
        edited: m.edited ?? null,
        deleted: m.deleted === true,
      })),
    ),
  };
}
