/**
 * The Store contract: one suite, run against every adapter (PostgreSQL, the
 * embedded PGlite). Tests share one store per file and stay independent by
 * using their own users and channels.
 */
import type { ExecutionContext, TestFn } from 'ava';
import { StoreError, type AttachmentLog, type NewMessage, type Store, type StoreErrorKind } from '../../runtime/ports.js';
import { registerAttachmentTests } from './attachments.contract.js';

export interface StoreFixture {
  store: Store;
  attachments: AttachmentLog;
  /** Closes the store and whatever server it runs on. */
  close(): Promise<void>;
}

let names = 0;
/** A user or channel name no other test uses. */
const unique = (prefix: string): string => `${prefix}${++names}x${process.pid}`;

async function expectKind(t: ExecutionContext, promise: Promise<unknown>, kind: StoreErrorKind): Promise<void> {
  const err = await t.throwsAsync(promise, { instanceOf: StoreError });
  t.is(err?.kind, kind);
}

const msg = (senderId: number, cmid: string, body = `body of ${cmid}`): NewMessage => ({ senderId, cmid, body });

export function storeContract(test: TestFn, open: () => Promise<StoreFixture>): void {
  let fixture: StoreFixture | undefined;
  test.before(async () => {
    fixture = await open();
  });
  test.after.always(async () => {
    await fixture?.close();
  });
  const s = (): Store => fixture!.store;
  const user = async (prefix = 'u') => s().createUser(unique(prefix), Buffer.from('hash'), Buffer.from('salt'));
  /** A public channel owned by a new user, activated: ready for appends. */
  const channel = async () => {
    const owner = await user('owner');
    const ch = await s().createChannel(unique('ch'), 'public', 'topic', owner.id);
    const { epoch } = await s().activate(ch.id, 0);
    return { owner, ch, epoch };
  };
  registerAttachmentTests(test, s, () => fixture!.attachments, channel, user);

  test('users: create, find by name and id, credentials; a taken name conflicts', async (t) => {
    const name = unique('alice');
    const created = await s().createUser(name, Buffer.from([1, 2, 3]), Buffer.from([9, 8]));
    t.is(created.name, name);
    t.deepEqual(await s().findUser(name), created);
    t.deepEqual(await s().getUser(created.id), created);
    const cred = await s().findCredentials(name);
    t.deepEqual({ ...cred, passwordHash: [...cred!.passwordHash], salt: [...cred!.salt] }, {
      ...created,
      passwordHash: [1, 2, 3],
      salt: [9, 8],
    });
    t.is(await s().findUser(unique('nobody')), null);
    t.is(await s().getUser(987654321), null);
    await expectKind(t, s().createUser(name, Buffer.from('x'), Buffer.from('y')), 'conflict');
  });

  test('sessions: found until expiry, gone after delete', async (t) => {
    const u = await user();
    const token = Buffer.from(unique('token'));
    const expiresAt = Date.now() + 60_000;
    await s().createSession(u.id, token, expiresAt);
    t.deepEqual(await s().findSession(token, Date.now()), { userId: u.id, name: u.name, expiresAt });
    t.is(await s().findSession(token, expiresAt), null, 'expired at its expiry time');
    t.is(await s().findSession(Buffer.from('unknown'), Date.now()), null);
    await s().deleteSession(token);
    t.is(await s().findSession(token, Date.now()), null);
  });

  test('sessions: many looked up in one call, answers in input order, misses as null', async (t) => {
    const [a, b] = [await user(), await user()];
    const ta = Buffer.from(unique('ta'));
    const tb = Buffer.from(unique('tb'));
    const expired = Buffer.from(unique('te'));
    const later = Date.now() + 60_000;
    await s().createSession(a.id, ta, later);
    await s().createSession(b.id, tb, later);
    await s().createSession(b.id, expired, Date.now() - 1);
    const found = await s().findSessions([tb, Buffer.from('nope'), ta, expired, tb], Date.now());
    t.deepEqual(found.map((x) => x?.name ?? null), [b.name, null, a.name, null, b.name]);
    t.deepEqual(await s().findSessions([], Date.now()), []);
  });

  test('channels: create with owner membership, look up, taken name conflicts', async (t) => {
    const u = await user();
    const name = unique('room');
    const ch = await s().createChannel(name, 'private', 'a topic', u.id);
    t.like(ch, { name, kind: 'private', topic: 'a topic', lastSeq: 0 });
    t.deepEqual(await s().getChannel(ch.id), ch);
    t.deepEqual(await s().getChannelByName(name), ch);
    t.is(await s().getChannel(987654321), null);
    t.is(await s().getChannelByName(unique('none')), null);
    t.deepEqual(await s().members(ch.id), [{ channelId: ch.id, userId: u.id, name: u.name, role: 'owner', lastReadSeq: 0 }]);
    await expectKind(t, s().createChannel(name, 'public', '', u.id), 'conflict');
  });

  test('findPublic: public channels by prefix, in name order, wildcards literal', async (t) => {
    const u = await user();
    const prefix = unique('pfx');
    for (const suffix of ['c', 'a', 'b']) await s().createChannel(`${prefix}${suffix}`, 'public', '', u.id);
    await s().createChannel(`${prefix}hidden`, 'private', '', u.id);
    const found = await s().findPublic(prefix, 10);
    t.deepEqual(found.map((c) => c.name), [`${prefix}a`, `${prefix}b`, `${prefix}c`]);
    t.is((await s().findPublic(prefix, 2)).length, 2);
    t.deepEqual(await s().findPublic(`${prefix}%`, 10), []);
    t.deepEqual(await s().findPublic(`${prefix.slice(0, -1)}_`, 10), []);
  });

  test('openDirect: one channel per pair, under 5 concurrent calls from both sides', async (t) => {
    const a = await user('a');
    const b = await user('b');
    const opened = await Promise.all([0, 1, 2, 3, 4].map((i) => (i % 2 ? s().openDirect(a.id, b.id) : s().openDirect(b.id, a.id))));
    t.is(new Set(opened.map((c) => c.id)).size, 1);
    t.like(opened[0], { kind: 'direct', name: null, lastSeq: 0 });
    const members = await s().members(opened[0]!.id);
    t.deepEqual(members.map((m) => m.userId).sort((x, y) => x - y), [a.id, b.id].sort((x, y) => x - y));
    t.deepEqual(await s().openDirect(a.id, b.id), opened[0]);
  });

  test('listForUser: memberships with role, read marker, and the peer of a direct channel', async (t) => {
    const a = await user('a');
    const b = await user('b');
    const room = await s().createChannel(unique('room'), 'public', '', a.id);
    const dm = await s().openDirect(a.id, b.id);
    const listA = await s().listForUser(a.id);
    t.deepEqual(listA.map((c) => [c.id, c.role, c.peer, c.lastReadSeq]), [
      [room.id, 'owner', null, 0],
      [dm.id, 'member', b.name, 0],
    ]);
    const listB = await s().listForUser(b.id);
    t.deepEqual(listB.map((c) => [c.id, c.peer]), [[dm.id, a.name]]);
  });

  test('members: put inserts and changes role, remove deletes', async (t) => {
    const { owner, ch } = await channel();
    const u = await user();
    await s().putMember(ch.id, u.id, 'member');
    t.deepEqual((await s().members(ch.id)).map((m) => [m.userId, m.role]), [[owner.id, 'owner'], [u.id, 'member']]);
    await s().putMember(ch.id, u.id, 'admin');
    t.is((await s().members(ch.id)).find((m) => m.userId === u.id)?.role, 'admin');
    await s().removeMember(ch.id, u.id);
    t.deepEqual((await s().members(ch.id)).map((m) => m.userId), [owner.id]);
    await expectKind(t, s().putMember(987654321, u.id, 'member'), 'not_found');
  });

  test('markRead: the marker only moves forward', async (t) => {
    const { owner, ch } = await channel();
    t.is(await s().markRead(ch.id, owner.id, 5), 5);
    t.is(await s().markRead(ch.id, owner.id, 3), 5);
    t.is(await s().markRead(ch.id, owner.id, 7), 7);
    t.is((await s().members(ch.id))[0]?.lastReadSeq, 7);
    const stranger = await user();
    await expectKind(t, s().markRead(ch.id, stranger.id, 1), 'not_found');
  });

  test('activate: raises the epoch past both the old one and the claim, returns last_seq', async (t) => {
    const owner = await user();
    const ch = await s().createChannel(unique('ch'), 'public', '', owner.id);
    t.deepEqual(await s().activate(ch.id, 0), { epoch: 1, lastSeq: 0 });
    t.deepEqual(await s().activate(ch.id, 10), { epoch: 10, lastSeq: 0 });
    const { epoch } = await s().activate(ch.id, 3);
    t.is(epoch, 11);
    await s().append(ch.id, epoch, [msg(owner.id, 'a'), msg(owner.id, 'b')]);
    t.deepEqual(await s().activate(ch.id, 0), { epoch: 12, lastSeq: 2 });
    t.is((await s().getChannel(ch.id))?.ownerEpoch, 12);
    await expectKind(t, s().activate(987654321, 1), 'not_found');
  });

  registerAppendTests(test, s, channel, user);
}

type Fixtures = {
  channel: () => Promise<{ owner: { id: number; name: string }; ch: { id: number }; epoch: number }>;
  user: () => Promise<{ id: number; name: string }>;
};

function registerAppendTests(test: TestFn, s: () => Store, channel: Fixtures['channel'], user: Fixtures['user']): void {
  test('append: gap-free seqs from 1 across batches, commit ts, last_seq advanced', async (t) => {
    const { owner, ch, epoch } = await channel();
    const before = Date.now();
    const first = await s().append(ch.id, epoch, [msg(owner.id, 'a'), msg(owner.id, 'b'), msg(owner.id, 'c')]);
    const second = await s().append(ch.id, epoch, [msg(owner.id, 'd'), msg(owner.id, 'e')]);
    t.deepEqual([...first, ...second].map((o) => [o.seq, o.duplicate]), [[1, false], [2, false], [3, false], [4, false], [5, false]]);
    t.is(new Set(first.map((o) => o.ts)).size, 1, 'one stamp per batch');
    t.true(Math.abs(first[0]!.ts - before) < 5_000);
    t.true(second[0]!.ts >= first[0]!.ts);
    t.is((await s().getChannel(ch.id))?.lastSeq, 5);
    t.is(await s().countMessages(ch.id), 5);
    const stored = await s().getMessage(ch.id, 1);
    t.deepEqual(stored, {
      channelId: ch.id, seq: 1, senderId: owner.id, senderName: owner.name, cmid: 'a', body: 'body of a',
      ts: first[0]!.ts, editedAt: null, deleted: false, attachments: null,
    });
    t.deepEqual(await s().append(ch.id, epoch, []), []);
  });

  test('append: a (sender, cmid) already stored gets its original seq and ts, no second row', async (t) => {
    const { owner, ch, epoch } = await channel();
    const other = await user();
    const [original] = await s().append(ch.id, epoch, [msg(owner.id, 'same', 'first')]);
    await new Promise((r) => setTimeout(r, 5));
    const again = await s().append(ch.id, epoch, [msg(owner.id, 'same', 'second'), msg(other.id, 'same', 'other sender')]);
    t.deepEqual(again[0], { seq: original!.seq, ts: original!.ts, duplicate: true });
    t.like(again[1], { seq: 2, duplicate: false });
    t.is(await s().countMessages(ch.id), 2);
    t.is((await s().getMessage(ch.id, 1))?.body, 'first');
    t.is((await s().getChannel(ch.id))?.lastSeq, 2);
  });

  test('append: a repeat inside one batch gets the first occurrence\'s seq', async (t) => {
    const { owner, ch, epoch } = await channel();
    const out = await s().append(ch.id, epoch, [msg(owner.id, 'x'), msg(owner.id, 'y'), msg(owner.id, 'x', 'again')]);
    t.deepEqual(out.map((o) => [o.seq, o.duplicate]), [[1, false], [2, false], [1, true]]);
    t.is(out[2]!.ts, out[0]!.ts);
    t.is(await s().countMessages(ch.id), 2);
    t.is((await s().getMessage(ch.id, 1))?.body, 'body of x');
  });

  test('append: a stale epoch is fenced and writes nothing', async (t) => {
    const { owner, ch, epoch } = await channel();
    await s().append(ch.id, epoch, [msg(owner.id, 'kept')]);
    const { epoch: next } = await s().activate(ch.id, 0);
    await expectKind(t, s().append(ch.id, epoch, [msg(owner.id, 'stale')]), 'fenced');
    t.is(await s().countMessages(ch.id), 1);
    t.is((await s().getChannel(ch.id))?.lastSeq, 1);
    t.like((await s().append(ch.id, next, [msg(owner.id, 'fresh')]))[0], { seq: 2, duplicate: false });
    await expectKind(t, s().append(987654321, 1, [msg(owner.id, 'nowhere')]), 'not_found');
  });

  test('append: concurrent appends with one epoch never share a seq', async (t) => {
    const { owner, ch, epoch } = await channel();
    const batches = Array.from({ length: 8 }, (_, i) => [msg(owner.id, `p${i}a`), msg(owner.id, `p${i}b`)]);
    const results = await Promise.all(batches.map((b) => s().append(ch.id, epoch, b)));
    const seqs = results.flat().map((o) => o.seq).sort((a, b) => a - b);
    t.deepEqual(seqs, Array.from({ length: 16 }, (_, i) => i + 1));
    t.is(await s().countMessages(ch.id), 16);
    t.is((await s().getChannel(ch.id))?.lastSeq, 16);
  });

  test('append: batches of several channels asked for at once commit side by side, each fenced on its own', async (t) => {
    const a = await channel();
    const b = await channel();
    const stale = await channel();
    await s().append(b.ch.id, b.epoch, [msg(b.owner.id, 'earlier')]);
    await s().activate(stale.ch.id, 0);
    // Asked for in one turn: the store may carry them in one statement.
    const [ra, rb, rs, rn, ra2] = await Promise.allSettled([
      s().append(a.ch.id, a.epoch, [msg(a.owner.id, 'a1'), msg(a.owner.id, 'a2')]),
      s().append(b.ch.id, b.epoch, [msg(b.owner.id, 'b1'), msg(b.owner.id, 'earlier', 'repeat')]),
      s().append(stale.ch.id, stale.epoch, [msg(stale.owner.id, 'lost')]),
      s().append(987654321, 1, [msg(a.owner.id, 'nowhere')]),
      s().append(a.ch.id, a.epoch, [msg(a.owner.id, 'a3')]),
    ]);
    const value = <T,>(r: PromiseSettledResult<T>): T => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    };
    t.deepEqual(value(ra).map((o) => [o.seq, o.duplicate]), [[1, false], [2, false]]);
    t.deepEqual(value(ra2).map((o) => [o.seq, o.duplicate]), [[3, false]]);
    t.deepEqual(value(rb).map((o) => [o.seq, o.duplicate]), [[2, false], [1, true]]);
    for (const [r, kind] of [[rs, 'fenced'], [rn, 'not_found']] as const) {
      t.is(r.status, 'rejected');
      if (r.status === 'rejected') t.is((r.reason as StoreError).kind, kind);
    }
    t.is((await s().getChannel(a.ch.id))?.lastSeq, 3);
    t.is((await s().getChannel(b.ch.id))?.lastSeq, 2);
    t.is(await s().countMessages(stale.ch.id), 0);
    t.is((await s().getChannel(stale.ch.id))?.lastSeq, 0);
    t.deepEqual((await s().history(b.ch.id, { limit: 10 })).map((m) => m.body), ['body of earlier', 'body of b1']);
  });

  test('append: bodies round-trip byte for byte', async (t) => {
    const { owner, ch, epoch } = await channel();
    const bodies = [`it's "quoted" \\ back?slash`, 'emoji 👋🏽 and ünïcödé', '?', '$1 ?? :name', ''];
    await s().append(ch.id, epoch, bodies.map((body, i) => msg(owner.id, `b${i}`, body)));
    const page = await s().history(ch.id, { limit: 10 });
    t.deepEqual(page.map((m) => m.body), bodies);
  });

  test('edit and delete: fenced; delete leaves a tombstone; both refuse missing or deleted messages', async (t) => {
    const { owner, ch, epoch } = await channel();
    await s().append(ch.id, epoch, [msg(owner.id, 'a'), msg(owner.id, 'b')]);
    const editedAt = await s().editMessage(ch.id, epoch, 1, 'changed');
    t.true(Math.abs(editedAt - Date.now()) < 5_000);
    t.like(await s().getMessage(ch.id, 1), { body: 'changed', editedAt, deleted: false });
    await s().deleteMessage(ch.id, epoch, 2);
    t.like(await s().getMessage(ch.id, 2), { body: '', deleted: true, cmid: 'b' });
    await expectKind(t, s().editMessage(ch.id, epoch, 2, 'revive'), 'not_found');
    await expectKind(t, s().deleteMessage(ch.id, epoch, 2), 'not_found');
    await expectKind(t, s().editMessage(ch.id, epoch, 99, 'x'), 'not_found');
    const { epoch: next } = await s().activate(ch.id, 0);
    await expectKind(t, s().editMessage(ch.id, epoch, 1, 'stale'), 'fenced');
    await expectKind(t, s().deleteMessage(ch.id, epoch, 1), 'fenced');
    t.is((await s().getMessage(ch.id, 1))?.body, 'changed');
    await s().deleteMessage(ch.id, next, 1);
    t.is(await s().countMessages(ch.id), 2, 'tombstones stay');
    t.is(await s().getMessage(ch.id, 3), null);
  });

  test('history: newest below `before`, oldest above `after`, always ascending, capped by limit', async (t) => {
    const { owner, ch, epoch } = await channel();
    await s().append(ch.id, epoch, Array.from({ length: 10 }, (_, i) => msg(owner.id, `h${i + 1}`)));
    const seqs = async (q: { before?: number; after?: number; limit: number }) => (await s().history(ch.id, q)).map((m) => m.seq);
    t.deepEqual(await seqs({ limit: 3 }), [8, 9, 10]);
    t.deepEqual(await seqs({ before: 8, limit: 3 }), [5, 6, 7]);
    t.deepEqual(await seqs({ before: 3, limit: 5 }), [1, 2]);
    t.deepEqual(await seqs({ after: 2, limit: 3 }), [3, 4, 5]);
    t.deepEqual(await seqs({ after: 8, limit: 10 }), [9, 10]);
    t.deepEqual(await seqs({ after: 2, before: 6, limit: 10 }), [3, 4, 5]);
    t.deepEqual(await seqs({ after: 10, limit: 10 }), []);
    t.deepEqual(await seqs({ limit: 0 }), []);
    const page = await s().history(ch.id, { after: 0, limit: 1 });
    t.like(page[0], { senderId: owner.id, senderName: owner.name, cmid: 'h1' });
  });
}
