import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageView } from '../../protocol/messages.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { RunningNode } from '../../runtime/node.js';
import type { TertuliaClient } from '../../protocol/client/index.js';
import { codeOf, eventually, startPod, user, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);
let node: RunningNode;
let dir: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tertulia-attachments-'));
  node = await startPod({ databaseUrl: await (await pg()).createDatabase() });
});
test.after.always(async () => {
  await node?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function collect(c: TertuliaClient, channel: number): MessageView[] {
  const got: MessageView[] = [];
  c.on('message', (m) => {
    if (m.channel === channel) got.push(m);
  });
  return got;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('a 5 MiB file goes up with uploadFile, out with a message, and down with downloadTo unchanged', async (t) => {
  const a = await user(t, node, 'alice');
  const b = await user(t, node, 'bob');
  const { channel } = await a.create(`files-${a.name}`, 'public');
  await b.join(channel.id);
  const gotB = collect(b, channel.id);
  await b.subscribe(channel.id);

  const bytes = randomBytes(5 * 1024 * 1024);
  const source = join(dir, `holiday ${a.name}.png`);
  await writeFile(source, bytes);
  const seen: [number, number][] = [];
  const attachment = await a.uploadFile(source, { onProgress: (sent, total) => seen.push([sent, total]) });
  t.is(attachment.name, `holiday ${a.name}.png`);
  t.is(attachment.type, 'image/png');
  t.is(attachment.size, bytes.length);
  t.is(attachment.sha256, sha256(bytes));
  t.regex(attachment.id, /^[A-Za-z0-9_-]{22}$/);
  t.true(seen.length > 1, 'progress is reported per chunk');
  t.true(seen.every(([, total]) => total === bytes.length), 'progress sees the total');
  t.deepEqual(seen.at(-1), [bytes.length, bytes.length]);
  t.true(seen.every(([sent], i) => i === 0 || sent > seen[i - 1]![0]), 'progress only grows');

  const ack = await a.send(channel.id, 'pictures from the trip', undefined, { attachments: [attachment.id] });
  await eventually(() => gotB.some((m) => m.seq === ack.seq), 10000, 'the message with the attachment');
  const m = gotB.find((x) => x.seq === ack.seq)!;
  t.is(m.body, 'pictures from the trip');
  t.deepEqual(m.attachments, [attachment]);

  const target = join(dir, `copy-${b.name}.png`);
  const downloaded: number[] = [];
  const view = await b.downloadTo(attachment.id, target, { onProgress: (received) => downloaded.push(received) });
  t.deepEqual(view, attachment);
  const copy = await readFile(target);
  t.true(copy.equals(bytes), 'identical bytes');
  t.is(sha256(copy), attachment.sha256);
  t.is(downloaded.at(-1), bytes.length);
  await t.throwsAsync(stat(`${target}.part`), { code: 'ENOENT' }, 'no .part file is left');
});

test('upload() of a small buffer; a message of attachments alone; download() into memory', async (t) => {
  const a = await user(t, node, 'alice');
  const { channel } = await a.create(`small-${a.name}`, 'private');
  const gotA = collect(a, channel.id);
  await a.subscribe(channel.id);
  const text = Buffer.from('¡hola, archivo! 🎉\n');
  const seen: [number, number][] = [];
  const attachment = await a.upload(text, { name: 'hola.txt', type: 'text/plain' }, { onProgress: (s, total) => seen.push([s, total]) });
  t.like(attachment, { name: 'hola.txt', type: 'text/plain', size: text.length, sha256: sha256(text) });
  t.deepEqual(seen, [
    [0, text.length],
    [text.length, text.length],
  ]);
  const plain = await a.upload(new Uint8Array([1, 2, 3]), { name: 'raw' });
  t.is(plain.type, 'application/octet-stream');

  const ack = await a.send(channel.id, '', undefined, { attachments: [attachment.id, plain.id] });
  await eventually(() => gotA.some((m) => m.seq === ack.seq), 10000, 'own echo');
  t.deepEqual(gotA.find((m) => m.seq === ack.seq)!.attachments, [attachment, plain], 'in the order given');
  const h = await a.history(channel.id);
  t.deepEqual(h.messages.at(-1)!.attachments, [attachment, plain]);

  const { attachment: view, data } = await a.download(attachment.id);
  t.deepEqual(view, attachment);
  t.true(data.equals(text));
  t.deepEqual(await a.attachmentInfo(plain.id), plain);
});

test('an attachment is readable by members of a channel it was posted in, and by no one else', async (t) => {
  const a = await user(t, node, 'alice');
  const b = await user(t, node, 'bob');
  const c = await user(t, node, 'carol');
  const { channel } = await a.create(`secret-${a.name}`, 'private');
  await a.invite(channel.id, b.name);
  const attachment = await a.upload(randomBytes(1000), { name: 'secret.bin' });
  t.is(await codeOf(b.download(attachment.id)), ErrorCode.NO_SUCH_ATTACHMENT, 'not posted yet');
  await a.send(channel.id, 'for bob', undefined, { attachments: [attachment.id] });
  t.is((await b.download(attachment.id)).attachment.id, attachment.id);
  t.is(await codeOf(c.download(attachment.id)), ErrorCode.NO_SUCH_ATTACHMENT);
  const { channel: own } = await c.create(`own-${c.name}`, 'public');
  t.is(await codeOf(c.send(own.id, 'mine now', undefined, { attachments: [attachment.id] })), ErrorCode.NO_SUCH_ATTACHMENT);
});

test('the chunk semantics the client relies on: a resent chunk is skipped, a hole is refused', async (t) => {
  const a = await user(t, node, 'alice');
  const bytes = randomBytes(3000);
  const { upload } = await a.request('upload', { name: 'resent.bin', type: 'application/octet-stream', size: 3000, sha256: sha256(bytes) });
  t.deepEqual(await a.request('chunk', { upload, offset: 0, data: bytes.subarray(0, 2000) }), { received: 2000 });
  t.deepEqual(await a.request('chunk', { upload, offset: 0, data: bytes.subarray(0, 2000) }), { received: 2000 }, 'a reply lost, the chunk resent');
  t.is(await codeOf(a.request('chunk', { upload, offset: 2500, data: bytes.subarray(2500) })), ErrorCode.INVALID_FIELD);
  t.deepEqual(await a.request('chunk', { upload, offset: 1000, data: bytes.subarray(1000) }), { received: 3000 }, 'overlapping bytes are skipped');
  const { attachment } = await a.request('finish', { upload });
  t.is(attachment.id, upload);
  t.is(attachment.sha256, sha256(bytes));
  t.is(await codeOf(a.request('chunk', { upload, offset: 3000, data: bytes.subarray(0, 1) })), ErrorCode.NO_SUCH_UPLOAD, 'finished');
});
