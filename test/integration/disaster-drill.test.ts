import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { TertuliaClient } from '../../protocol/client/index.js';
import { codeOf, startPod, usePostgres } from '../harness/server.js';
import { downloadBytes, post, uploadBytes } from '../harness/attachments.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { AttachmentView } from '../../protocol/messages.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const postgres = usePostgres(test);

const CHANNELS = 20;
const PER_CHANNEL = 500;

async function rows(url: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const r = await db.query(
      `select channel_id, seq, sender_id, client_msg_id, body, (extract(epoch from ts) * 1000)::bigint as ts,
              (extract(epoch from edited_at) * 1000)::bigint as edited, deleted, attachments
       from messages order by channel_id, seq`,
    );
    return r.rows.map((x) => JSON.stringify(x));
  } finally {
    await db.end();
  }
}

/** Attachments that messages carry, and the links. */
async function attachmentRows(url: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const files = await db.query(
      `select id, uploader_id, name, content_type, size, encode(sha256, 'hex') as sha256, state from attachments a
       where exists (select 1 from message_attachments ma where ma.attachment_id = a.id) order by id`,
    );
    const links = await db.query('select channel_id, seq, attachment_id from message_attachments order by 1, 2, 3');
    return [...files.rows, ...links.rows].map((x) => JSON.stringify(x));
  } finally {
    await db.end();
  }
}

async function channelRows(url: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const r = await db.query('select id, name, kind, topic, last_seq from channels order by id');
    return r.rows.map((x) => JSON.stringify(x));
  } finally {
    await db.end();
  }
}

async function tertulia(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin/tertulia.js'), ...args], {
    env: { ...process.env, ...env },
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

test('disaster drill: snapshot, lose the database, restore from segments, carry on', async (t) => {
  const server = await postgres();
  const original = await server.createDatabase();
  const blobDir = mkdtempSync(path.join(tmpdir(), 'tertulia-drill-'));
  t.teardown(() => rmSync(blobDir, { recursive: true, force: true }));

  const node = await startPod({ databaseUrl: original, blobDir, snapshotMs: 0, sendRatePerSec: 100000, sendBurst: 100000 });
  const ids: number[] = [];
  const files = new Map([
    ['kept.png', randomBytes(700 * 1024)],
    ['edited.txt', Buffer.from('notes ✓')],
    ['deleted.bin', randomBytes(1000)],
  ]);
  const uploaded = new Map<string, AttachmentView>();
  const sent = new Map<string, number>();
  try {
    const c = new TertuliaClient({ host: '127.0.0.1', port: node.port, requestTimeoutMs: 60000 });
    await c.connect();
    await c.register('drill', 'correct horse battery');
    for (let i = 0; i < CHANNELS; i++) ids.push((await c.create(`drill-${i}`, i % 4 === 3 ? 'private' : 'public')).channel.id);
    await Promise.all(
      ids.map(async (ch) => {
        // Ten in flight per channel keeps the connection under its pending cap.
        for (let k = 0; k < PER_CHANNEL; k += 10) {
          await Promise.all(Array.from({ length: 10 }, (_, j) => c.send(ch, `channel ${ch} message ${k + j} ✓`)));
        }
        for (let s = 7; s <= PER_CHANNEL; s += 97) await c.edit(ch, s, `edited ${s}`);
        for (let s = 11; s <= PER_CHANNEL; s += 89) await c.delete(ch, s);
      }),
    );
    // Files in channel 2: one kept, one kept through an edit, one whose message is deleted.
    for (const [name, bytes] of files) uploaded.set(name, await uploadBytes(c, bytes, name));
    for (const name of files.keys()) sent.set(name, (await post(c, ids[1]!, `file ${name}`, [uploaded.get(name)!.id])).seq);
    await c.edit(ids[1]!, sent.get('edited.txt')!, 'file edited.txt, described better');
    await c.delete(ids[1]!, sent.get('deleted.bin')!);
    await c.close();
  } finally {
    await node.stop();
  }
  const before = await rows(original);
  t.is(before.length, CHANNELS * PER_CHANNEL + files.size);

  const env = { DATABASE_URL: original, TERTULIA_BLOB_DIR: blobDir };
  t.log((await tertulia(['snapshot', '--all'], env)).trim());

  // The database is lost: restore into an empty one from the segments alone.
  const restored = await server.createDatabase();
  const out = await tertulia(['restore', '--from', blobDir], { DATABASE_URL: restored });
  t.log(out.trim().split('\n').at(-1));
  t.deepEqual(await rows(restored), before, 'every message: seq, sender, cmid, body, ts, edit time, tombstone');
  t.deepEqual(await channelRows(restored), await channelRows(original), 'every channel');
  t.deepEqual(await attachmentRows(restored), await attachmentRows(original), 'every posted file and which messages carry it');

  const again = await startPod({ databaseUrl: restored, blobDir, snapshotMs: 0 });
  try {
    const c = new TertuliaClient({ host: '127.0.0.1', port: again.port });
    await c.connect();
    await c.register('after-drill', 'correct horse battery');
    await c.join(ids[0]!);
    t.is((await c.send(ids[0]!, 'life goes on')).seq, PER_CHANNEL + 1);
    t.true((await c.create('drill-new', 'public')).channel.id > Math.max(...ids), 'new channels get fresh ids');
    // The files' bytes never left the blob store: members read them again.
    await c.join(ids[1]!);
    for (const name of ['kept.png', 'edited.txt']) {
      t.true((await downloadBytes(c, uploaded.get(name)!.id)).data.equals(files.get(name)!), `${name} reads back`);
    }
    t.is(await codeOf(downloadBytes(c, uploaded.get('deleted.bin')!.id)), ErrorCode.NO_SUCH_ATTACHMENT, 'a deleted message keeps its file no more');
    await c.close();
  } finally {
    await again.stop();
  }
});
