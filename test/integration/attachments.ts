/**
 * The attachment scenarios, run against a pod on each blob store adapter
 * (attachments-fs.test.ts, attachments-gcs.test.ts).
 */
import type { TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../protocol/errors.js';
import type { MessageView } from '../../protocol/messages.js';
import type { RunningNode } from '../../runtime/node.js';
import type { BlobStore } from '../../runtime/ports.js';
import { attachmentKey } from '../../runtime/attachments/keys.js';
import { downloadBytes, post, sendChunks, sha256Hex, uploadBytes } from '../harness/attachments.js';
import { codeOf, eventually, user } from '../harness/server.js';

export interface AttachmentsPod {
  node: RunningNode;
  /** The pod's blob store, opened a second time, to look at what is stored. */
  blobs: BlobStore;
}

const MiB = 1024 * 1024;

export function attachmentScenarios(test: TestFn, pod: () => AttachmentsPod): void {
  test('a 5 MiB attachment round trip: chunks up, posted, delivered live, read back by a member with its sha256', async (t) => {
    const { node, blobs } = pod();
    const ana = await user(t, node, 'ana');
    const bob = await user(t, node, 'bob');
    const { channel } = await ana.create(`files-${ana.name}`, 'private');
    await ana.invite(channel.id, bob.name);
    const live: MessageView[] = [];
    bob.on('message', (m) => live.push(m));
    await bob.subscribe(channel.id);

    const bytes = randomBytes(5 * MiB);
    const file = await uploadBytes(ana, bytes, 'fotos de la playa.tar');
    t.like(file, { name: 'fotos de la playa.tar', type: 'application/octet-stream', size: bytes.length, sha256: sha256Hex(bytes) });
    t.regex(file.id, /^[A-Za-z0-9_-]{22}$/);
    t.is((await blobs.stat(attachmentKey(file.id)))?.size, bytes.length, 'stored under attachments/<id>');

    const sent = await post(ana, channel.id, 'las fotos', [file.id]);
    await eventually(() => live.some((m) => m.seq === sent.seq), 10000, 'live delivery');
    t.deepEqual(live.find((m) => m.seq === sent.seq)?.attachments, [file]);
    t.deepEqual((await bob.history(channel.id)).messages.at(-1)?.attachments, [file], 'history carries it');

    const got = await downloadBytes(bob, file.id);
    t.deepEqual(got.attachment, file);
    t.is(sha256Hex(got.data), file.sha256);
    t.true(got.data.equals(bytes));
    t.is(got.chunks, Math.ceil(bytes.length / node.attachments.uploads.limits.chunkBytes));
  });

  test('only the uploader and members of a channel where it was posted may download it', async (t) => {
    const { node } = pod();
    const ana = await user(t, node, 'ana');
    const bob = await user(t, node, 'bob');
    const eve = await user(t, node, 'eve');
    const { channel } = await ana.create(`perm-${ana.name}`, 'private');
    await ana.invite(channel.id, bob.name);
    const file = await uploadBytes(ana, randomBytes(1000), 'secret.txt');

    t.is(await codeOf(downloadBytes(bob, file.id)), ErrorCode.NO_SUCH_ATTACHMENT, 'not posted yet');
    t.true((await downloadBytes(ana, file.id)).data.length === 1000, 'the uploader may');
    const sent = await post(ana, channel.id, '', [file.id]);
    t.is((await downloadBytes(bob, file.id)).data.length, 1000, 'a member may');
    t.is(await codeOf(downloadBytes(eve, file.id)), ErrorCode.NO_SUCH_ATTACHMENT, 'a non-member may not');
    t.is(await codeOf(downloadBytes(eve, 'A'.repeat(22))), ErrorCode.NO_SUCH_ATTACHMENT, 'unknown looks the same');

    await ana.kick(channel.id, bob.name);
    t.is(await codeOf(downloadBytes(bob, file.id)), ErrorCode.NO_SUCH_ATTACHMENT, 'kicked: no longer');
    await ana.invite(channel.id, bob.name);
    await ana.delete(channel.id, sent.seq);
    t.is(await codeOf(downloadBytes(bob, file.id)), ErrorCode.NO_SUCH_ATTACHMENT, 'message deleted: no longer');
    const tomb = (await bob.history(channel.id)).messages.find((m) => m.seq === sent.seq);
    t.like(tomb, { deleted: true, body: '' });
    t.is(tomb?.attachments, undefined, 'a tombstone carries no files');
  });

  test('a corrupted or wrongly sized upload is rejected and nothing is stored', async (t) => {
    const { node, blobs } = pod();
    const ana = await user(t, node, 'ana');
    const bytes = randomBytes(300 * 1024);
    const corrupted = Buffer.from(bytes);
    corrupted[1234] ^= 0xff;
    const upload = await sendChunks(ana, corrupted, 'photo.jpg', sha256Hex(bytes));
    t.is(await codeOf(ana.request('finish', { upload })), ErrorCode.CHECKSUM_MISMATCH);
    t.is(await codeOf(ana.request('finish', { upload })), ErrorCode.NO_SUCH_UPLOAD, 'discarded');
    await eventually(async () => (await blobs.stat(attachmentKey(upload))) === null);
    const { channel } = await ana.create(`bad-${ana.name}`, 'public');
    t.is(await codeOf(post(ana, channel.id, 'x', [upload])), ErrorCode.NO_SUCH_ATTACHMENT);
    t.is(await node.store.countMessages(channel.id), 0, 'the refused send wrote nothing');

    // Too few bytes, too many, over the cap.
    const short = await ana.request('upload', { name: 'a', type: 'text/plain', size: 10, sha256: sha256Hex(Buffer.alloc(10)) });
    await ana.request('chunk', { upload: short.upload, offset: 0, data: Buffer.alloc(9) });
    t.is(await codeOf(ana.request('finish', { upload: short.upload })), ErrorCode.CHECKSUM_MISMATCH);
    const long = await ana.request('upload', { name: 'a', type: 'text/plain', size: 10, sha256: sha256Hex(Buffer.alloc(10)) });
    t.is(await codeOf(ana.request('chunk', { upload: long.upload, offset: 0, data: Buffer.alloc(11) })), ErrorCode.TOO_LARGE);
    t.is(await codeOf(ana.request('chunk', { upload: long.upload, offset: 0, data: Buffer.alloc(1) })), ErrorCode.NO_SUCH_UPLOAD);
    const cap = node.attachments.uploads.limits.maxBytes;
    t.is(await codeOf(ana.request('upload', { name: 'a', type: 'text/plain', size: cap + 1, sha256: 'ab'.repeat(32) })), ErrorCode.TOO_LARGE);

    // The connection, the user and the server carry on.
    const ok = await uploadBytes(ana, Buffer.from('still fine'));
    t.is((await downloadBytes(ana, ok.id)).data.toString(), 'still fine');
  });

  test('chunks: a resent chunk is skipped, a hole is refused, another user cannot touch the upload', async (t) => {
    const { node } = pod();
    const ana = await user(t, node, 'ana');
    const eve = await user(t, node, 'eve');
    const bytes = randomBytes(3000);
    const { upload } = await ana.request('upload', { name: 'a.bin', type: 'application/octet-stream', size: 3000, sha256: sha256Hex(bytes) });
    t.deepEqual(await ana.request('chunk', { upload, offset: 0, data: bytes.subarray(0, 1000) }), { received: 1000 });
    t.deepEqual(await ana.request('chunk', { upload, offset: 0, data: bytes.subarray(0, 1000) }), { received: 1000 }, 'resent');
    t.deepEqual(await ana.request('chunk', { upload, offset: 500, data: bytes.subarray(500, 2000) }), { received: 2000 }, 'overlapping');
    const hole = ana.request('chunk', { upload, offset: 2500, data: bytes.subarray(2500) });
    t.is(await codeOf(hole), ErrorCode.INVALID_FIELD);
    t.is(await codeOf(eve.request('chunk', { upload, offset: 2000, data: bytes.subarray(2000) })), ErrorCode.NO_SUCH_UPLOAD);
    t.is(await codeOf(eve.request('finish', { upload })), ErrorCode.NO_SUCH_UPLOAD);
    t.deepEqual(await ana.request('chunk', { upload, offset: 2000, data: bytes.subarray(2000) }), { received: 3000 });
    // A finish repeated (its reply lost) gets the same answer, even while the first runs.
    const [first, again] = await Promise.all([ana.request('finish', { upload }), ana.request('finish', { upload })]);
    t.deepEqual(again, first);
    t.deepEqual(await ana.request('finish', { upload }), first);
    const { attachment } = first;
    t.is(await codeOf(ana.request('chunk', { upload, offset: 3000, data: bytes.subarray(0, 1) })), ErrorCode.NO_SUCH_UPLOAD);
    t.true((await downloadBytes(ana, attachment.id)).data.equals(bytes));
    const { channel } = await eve.create(`steal-${eve.name}`, 'public');
    t.is(await codeOf(post(eve, channel.id, 'mine', [attachment.id])), ErrorCode.NO_SUCH_ATTACHMENT, "only one's own uploads");
  });

  test('an empty file, and a message with several attachments in the order given', async (t) => {
    const { node } = pod();
    const ana = await user(t, node, 'ana');
    const { channel } = await ana.create(`many-${ana.name}`, 'public');
    const empty = await uploadBytes(ana, Buffer.alloc(0), 'empty');
    t.is(empty.sha256, sha256Hex(Buffer.alloc(0)));
    const files = [empty, await uploadBytes(ana, Buffer.from('one'), '1.txt'), await uploadBytes(ana, Buffer.from('two'), '2.txt')];
    const order = [files[2]!, files[0]!, files[1]!];
    const sent = await post(ana, channel.id, 'three files', order.map((f) => f.id));
    const m = (await ana.history(channel.id)).messages.find((x) => x.seq === sent.seq);
    t.deepEqual(m?.attachments?.map((f) => f.id), order.map((f) => f.id));
    const r = await ana.request('download', { attachment: empty.id });
    t.like(r, { offset: 0, eof: true });
    t.is(r.data.length, 0);
  });

  // Serial: it sweeps with a clock a day ahead, which would take other tests' uploads too.
  test.serial('cleanup deletes uploads never posted and files whose messages were deleted, and keeps posted ones', async (t) => {
    const { node, blobs } = pod();
    const ana = await user(t, node, 'ana');
    const { channel } = await ana.create(`sweep-${ana.name}`, 'public');
    const unposted = await uploadBytes(ana, Buffer.from('never posted'));
    const posted = await uploadBytes(ana, Buffer.from('posted'));
    const retracted = await uploadBytes(ana, Buffer.from('posted, then deleted'));
    await post(ana, channel.id, 'keep', [posted.id]);
    const gone = await post(ana, channel.id, 'retract', [retracted.id]);
    await ana.delete(channel.id, gone.seq);
    const abandoned = await ana.request('upload', { name: 'half', type: 'text/plain', size: 10, sha256: sha256Hex(Buffer.alloc(10)) });

    // Nothing is due within the grace period.
    const { sweeper } = node.attachments;
    const grace = 24 * 3600 * 1000;
    await sweeper.sweepOnce(Date.now());
    t.not(await blobs.stat(attachmentKey(unposted.id)), null);
    // Once it has passed, everything unreachable goes; an upload still in progress loses its row.
    const deleted = await sweeper.sweepOnce(Date.now() + grace + 60_000);
    t.true(deleted >= 3, `deleted ${deleted}`);
    t.is(await blobs.stat(attachmentKey(unposted.id)), null);
    t.is(await blobs.stat(attachmentKey(retracted.id)), null);
    t.not(await blobs.stat(attachmentKey(posted.id)), null);
    t.is(await codeOf(downloadBytes(ana, unposted.id)), ErrorCode.NO_SUCH_ATTACHMENT);
    t.is((await downloadBytes(ana, posted.id)).data.toString(), 'posted');
    // The abandoned upload's row is gone, so finishing it cannot store an orphan.
    await ana.request('chunk', { upload: abandoned.upload, offset: 0, data: Buffer.alloc(10) });
    t.is(await codeOf(ana.request('finish', { upload: abandoned.upload })), ErrorCode.NO_SUCH_UPLOAD);
    t.is(await blobs.stat(attachmentKey(abandoned.upload)), null);
  });
}
