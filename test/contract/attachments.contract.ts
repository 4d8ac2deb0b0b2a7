/** The attachment side of the store contract: uploads, links, permission, cleanup. */
import type { TestFn } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import type { AttachmentLog, ChannelRecord, NewUpload, Store, UserRecord } from '../../runtime/ports.js';

type Channel = () => Promise<{ owner: UserRecord; ch: ChannelRecord; epoch: number }>;

const HOUR = 3600 * 1000;

function upload(uploaderId: number, name = 'f.bin', size = 3): NewUpload {
  return {
    id: randomBytes(16).toString('base64url'),
    uploaderId,
    name,
    type: 'application/octet-stream',
    size,
    sha256: createHash('sha256').update(name).digest('hex'),
  };
}

export function registerAttachmentTests(
  test: TestFn,
  s: () => Store,
  a: () => AttachmentLog,
  channel: Channel,
  user: (prefix?: string) => Promise<UserRecord>,
): void {
  const stored = async (uploaderId: number, name?: string) => {
    const u = upload(uploaderId, name);
    await a().beginUpload(u);
    await a().completeUpload(u.id);
    const [view] = await a().postable(uploaderId, [u.id]);
    return view!;
  };

  test('attachments: only finished uploads of the uploader are postable, in the order asked', async (t) => {
    const me = await user('up');
    const other = await user('up');
    const f1 = await stored(me.id, 'one.txt');
    const f2 = await stored(me.id, 'two.txt');
    const theirs = await stored(other.id);
    const pending = upload(me.id);
    await a().beginUpload(pending);
    t.like(f1, { name: 'one.txt', type: 'application/octet-stream', size: 3, sha256: createHash('sha256').update('one.txt').digest('hex') });
    t.deepEqual((await a().postable(me.id, [f2.id, 'x'.repeat(22), theirs.id, pending.id, f1.id])).map((v) => v.id), [f2.id, f1.id]);
    t.deepEqual(await a().postable(me.id, []), []);
    await t.throwsAsync(a().completeUpload('y'.repeat(22)));
    await a().dropUpload(pending.id);
    await t.throwsAsync(a().completeUpload(pending.id), undefined, 'a dropped upload cannot complete');
  });

  test('attachments: a message carries them; the uploader and members may read; a delete takes them away', async (t) => {
    const { owner, ch, epoch } = await channel();
    const member = await user('mem');
    const outsider = await user('out');
    await s().putMember(ch.id, member.id, 'member');
    const f = await stored(owner.id, 'photo.png');
    t.deepEqual(await a().readable(f.id, owner.id), f, 'the uploader, before posting');
    t.is(await a().readable(f.id, member.id), null, 'not posted yet');
    const [o] = await s().append(ch.id, epoch, [{ senderId: owner.id, cmid: 'with-file', body: '', attachments: [f] }]);
    t.deepEqual((await s().getMessage(ch.id, o!.seq))?.attachments, [f]);
    t.deepEqual((await s().history(ch.id, { limit: 10 })).at(-1)?.attachments, [f]);
    t.deepEqual(await a().readable(f.id, member.id), f);
    t.is(await a().readable(f.id, outsider.id), null);
    // A repeated cmid links nothing twice.
    await s().append(ch.id, epoch, [{ senderId: owner.id, cmid: 'with-file', body: '', attachments: [f] }]);
    await s().deleteMessage(ch.id, epoch, o!.seq);
    t.is((await s().getMessage(ch.id, o!.seq))?.attachments, null);
    t.is(await a().readable(f.id, member.id), null, 'no message of the channel carries it now');
  });

  test('attachments: cleanup takes only what is due, and never what a message carries', async (t) => {
    const { owner, ch, epoch } = await channel();
    const posted = await stored(owner.id);
    const unposted = await stored(owner.id);
    const abandoned = upload(owner.id);
    await a().beginUpload(abandoned);
    await s().append(ch.id, epoch, [{ senderId: owner.id, cmid: 'c', body: 'x', attachments: [posted] }]);
    const now = Date.now();
    t.false((await a().sweepable(now - HOUR, 1000)).includes(unposted.id), 'within grace');
    const due = await a().sweepable(now + HOUR, 100000);
    t.true(due.includes(unposted.id) && due.includes(abandoned.id));
    t.false(due.includes(posted.id));
    t.false(await a().sweep(posted.id, now + HOUR, async () => t.fail('posted bytes removed')));
    // If removing the bytes fails, the row stays for the next pass.
    await t.throwsAsync(a().sweep(unposted.id, now + HOUR, async () => Promise.reject(new Error('storage down'))), { message: 'storage down' });
    t.true((await a().sweepable(now + HOUR, 100000)).includes(unposted.id));
    let removed = 0;
    t.true(await a().sweep(unposted.id, now + HOUR, async () => void removed++));
    t.true(await a().sweep(abandoned.id, now + HOUR, async () => void removed++));
    t.is(removed, 2);
    t.false(await a().sweep(unposted.id, now + HOUR, async () => t.fail('swept twice')));
    t.is(await a().readable(unposted.id, owner.id), null);
  });
}
