import test from 'ava';
import type { MessageView } from '../../protocol/messages.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { RunningNode } from '../../runtime/node.js';
import { TertuliaClient } from '../../protocol/client/index.js';
import { client, codeOf, eventually, startPod, user, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);
let node: RunningNode;
let url: string;

test.before(async () => {
  url = await (await pg()).createDatabase();
  node = await startPod({ databaseUrl: url });
});
test.after.always(async () => {
  await node?.stop();
});

function collect(c: TertuliaClient, channel: number): MessageView[] {
  const got: MessageView[] = [];
  c.on('message', (m) => {
    if (m.channel === channel) got.push(m);
  });
  return got;
}

test('two clients chat live; history has every message in order', async (t) => {
  const a = await user(t, node, 'alice');
  const b = await user(t, node, 'bob');
  const { channel } = await a.create(`room-${a.name}`, 'public');
  await b.join(channel.id);
  const gotB = collect(b, channel.id);
  await b.subscribe(channel.id);
  const acks = [];
  for (let i = 0; i < 5; i++) acks.push(await a.send(channel.id, `hello ${i} ¡señor! 🎉`));
  t.deepEqual(acks.map((x) => x.seq), [1, 2, 3, 4, 5]);
  await eventually(() => gotB.length === 5, 10000, 'live delivery');
  t.deepEqual(gotB.map((m) => m.seq), [1, 2, 3, 4, 5]);
  t.is(gotB[0]!.body, 'hello 0 ¡señor! 🎉');
  t.is(gotB[0]!.from, a.name);
  const h = await b.history(channel.id);
  t.deepEqual(h.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
  t.false(h.more);
  const older = await b.history(channel.id, { before: 4, limit: 2 });
  t.deepEqual(older.messages.map((m) => m.seq), [2, 3]);
  t.true(older.more);
  const newer = await b.history(channel.id, { after: 3 });
  t.deepEqual(newer.messages.map((m) => m.seq), [4, 5]);
});

test('a client that was away resumes exactly the messages it missed, then live ones', async (t) => {
  const a = await user(t, node, 'alice');
  const b = await user(t, node, 'bob');
  const { channel } = await a.create(`resume-${a.name}`, 'public');
  await b.join(channel.id);
  const token = (await b.login(b.name, 'correct horse battery').catch(() => null))?.token;
  t.is(token, undefined, 'a second login on one connection is refused');
  await a.send(channel.id, 'before');
  const first = collect(b, channel.id);
  await b.subscribe(channel.id, 0);
  await eventually(() => first.length === 1);
  const last = b.lastDelivered(channel.id)!;
  t.is(last, 1);
  await b.close();

  for (let i = 0; i < 50; i++) await a.send(channel.id, `missed ${i}`);

  const b2 = await client(t, node);
  const { token: tok } = await b2.login(b.name, 'correct horse battery');
  const b3 = new TertuliaClient({ host: '127.0.0.1', port: node.port, token: tok });
  t.teardown(() => b3.close());
  await b3.connect();
  const got = collect(b3, channel.id);
  await b3.subscribe(channel.id, last);
  await eventually(() => got.length === 50, 10000, 'replay');
  t.deepEqual(got.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => i + 2));
  t.deepEqual(got.map((m) => m.body), Array.from({ length: 50 }, (_, i) => `missed ${i}`));
  await a.send(channel.id, 'live again');
  await eventually(() => got.length === 51, 10000, 'live after resume');
  t.is(got[50]!.seq, 52);
  t.is(got[50]!.body, 'live again');
});

test('resending a client message id returns the original seq and stores one row', async (t) => {
  const a = await user(t, node);
  const { channel } = await a.create(`dedupe-${a.name}`, 'public');
  const first = await a.send(channel.id, 'once', 'cmid-1');
  const again = await a.send(channel.id, 'once', 'cmid-1');
  t.is(again.seq, first.seq);
  t.is(again.ts, first.ts);
  t.true(again.duplicate);
  const next = await a.send(channel.id, 'twice', 'cmid-2');
  t.is(next.seq, first.seq + 1);
  t.is(await node.store.countMessages(channel.id), 2);
});

test('a private channel is invisible to outsiders; a direct channel to all but its two users', async (t) => {
  const owner = await user(t, node, 'own');
  const friend = await user(t, node, 'fr');
  const outsider = await user(t, node, 'out');
  const { channel } = await owner.create(`secret-${owner.name}`, 'private');
  await owner.send(channel.id, 'classified');
  const code = codeOf;
  t.is(await code(outsider.join(channel.id)), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await code(outsider.join(channel.name!)), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await code(outsider.history(channel.id)), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await code(outsider.send(channel.id, 'let me in', undefined, { timeoutMs: 3000 })), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await code(outsider.subscribe(channel.id)), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await code(outsider.who(channel.id)), ErrorCode.NO_SUCH_CHANNEL);
  t.false((await outsider.channels()).channels.some((c) => c.id === channel.id));
  t.false((await outsider.find('secret-')).channels.some((c) => c.id === channel.id));
  t.is(await code(friend.invite(channel.id, outsider.name)), ErrorCode.NO_SUCH_CHANNEL);

  await owner.invite(channel.id, friend.name);
  t.deepEqual((await friend.history(channel.id)).messages.map((m) => m.body), ['classified']);
  t.is(await code(friend.invite(channel.id, outsider.name)), ErrorCode.FORBIDDEN);
  t.is(await node.store.countMessages(channel.id), 1, 'refused sends wrote nothing');

  const dm = (await owner.direct(friend.name)).channel;
  t.is(dm.kind, 'direct');
  t.is((await friend.direct(owner.name)).channel.id, dm.id, 'direct is idempotent');
  await friend.send(dm.id, 'psst');
  t.true((await owner.channels()).channels.some((c) => c.id === dm.id && c.peer === friend.name));
  t.false((await outsider.channels()).channels.some((c) => c.id === dm.id));
  t.is(await code(outsider.history(dm.id)), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await code(outsider.join(dm.id)), ErrorCode.WRONG_CHANNEL_KIND);
});

test('20 concurrent senders on one channel: gap-free seqs, each sender in its own order', async (t) => {
  const owner = await user(t, node);
  const { channel } = await owner.create(`busy-${owner.name}`, 'public');
  const senders = await Promise.all(Array.from({ length: 20 }, () => user(t, node, 's')));
  await Promise.all(senders.map((s) => s.join(channel.id)));
  const perSender = 15;
  await Promise.all(
    senders.map(async (s, i) => {
      const pending = [];
      for (let k = 0; k < perSender; k++) pending.push(s.send(channel.id, `${i}:${k}`));
      await Promise.all(pending);
    }),
  );
  const all: MessageView[] = [];
  let after = 0;
  for (;;) {
    const page = await owner.history(channel.id, { after, limit: 200 });
    all.push(...page.messages);
    if (!page.more) break;
    after = page.messages.at(-1)!.seq;
  }
  t.is(all.length, 20 * perSender);
  t.deepEqual(all.map((m) => m.seq), Array.from({ length: all.length }, (_, i) => i + 1));
  for (let i = 0; i < 20; i++) {
    const mine = all.filter((m) => m.body.startsWith(`${i}:`)).map((m) => Number(m.body.split(':')[1]));
    t.deepEqual(mine, Array.from({ length: perSender }, (_, k) => k), `sender ${i} order`);
  }
});

test('edit and delete by the author reach subscribers and leave tombstones', async (t) => {
  const a = await user(t, node);
  const b = await user(t, node);
  const { channel } = await a.create(`edits-${a.name}`, 'public');
  await b.join(channel.id);
  const edits: unknown[] = [];
  const deletes: unknown[] = [];
  b.on('edit', (e) => edits.push(e));
  b.on('delete', (e) => deletes.push(e));
  await b.subscribe(channel.id);
  const { seq } = await a.send(channel.id, 'tpyo');
  t.is(await codeOf(b.edit(channel.id, seq, 'mine now')), ErrorCode.NOT_AUTHOR);
  await a.edit(channel.id, seq, 'typo');
  await a.delete(channel.id, seq);
  t.is(await codeOf(a.delete(channel.id, seq)), ErrorCode.NO_SUCH_MESSAGE);
  await eventually(() => edits.length === 1 && deletes.length === 1);
  const [m] = (await b.history(channel.id)).messages;
  t.true(m!.deleted);
  t.is(m!.body, '');
});

test('read markers and unread counts', async (t) => {
  const a = await user(t, node);
  const b = await user(t, node);
  const { channel } = await a.create(`unread-${a.name}`, 'public');
  await b.join(channel.id);
  for (let i = 0; i < 4; i++) await a.send(channel.id, `m${i}`);
  const mine = () => b.channels().then((r) => r.channels.find((c) => c.id === channel.id)!);
  t.is((await mine()).unread, 4);
  t.is((await b.read(channel.id, 3)).lastReadSeq, 3);
  t.is((await b.read(channel.id, 1)).lastReadSeq, 3, 'a marker never moves back');
  t.is((await mine()).unread, 1);
  t.is((await b.read(channel.id, 99)).lastReadSeq, 4, 'clamped to the last seq');
});

test('presence, typing and who', async (t) => {
  const a = await user(t, node);
  const b = await user(t, node);
  const { channel } = await a.create(`who-${a.name}`, 'public');
  await b.join(channel.id);
  const presence: { name: string; online: boolean }[] = [];
  const typing: string[] = [];
  a.on('presence', (p) => presence.push(p));
  a.on('typing', (e) => typing.push(e.name));
  await a.subscribe(channel.id);
  await b.subscribe(channel.id);
  await eventually(() => presence.some((p) => p.name === b.name && p.online));
  const who = await a.who(channel.id);
  t.deepEqual(
    who.members.map((m) => [m.name, m.role, m.online]).sort(),
    [[a.name, 'owner', true], [b.name, 'member', true]].sort(),
  );
  await b.typing(channel.id);
  await eventually(() => typing.includes(b.name));
  await b.close();
  await eventually(() => presence.some((p) => p.name === b.name && !p.online));
});
