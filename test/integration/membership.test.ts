import test from 'ava';
import type { Events } from '../../protocol/messages.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { RunningNode } from '../../runtime/node.js';
import { TertuliaClient } from '../../protocol/client/index.js';
import { rawClient } from '../harness/raw.js';
import { client, codeOf, eventually, startPod, user, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);
let node: RunningNode;

test.before(async () => {
  node = await startPod({ databaseUrl: await (await pg()).createDatabase() });
});
test.after.always(async () => {
  await node?.stop();
});

const PASSWORD = 'correct horse battery';
type Frame = Record<string, unknown>;
const errorCode = (f: Frame) => (f.error as { code: number } | undefined)?.code;

function memberEvents(c: TertuliaClient, channel: number): Events['member'][] {
  const got: Events['member'][] = [];
  c.on('member', (e) => {
    if (e.channel === channel) got.push(e);
  });
  return got;
}

test('roles on a private channel: who may invite, kick and change roles', async (t) => {
  const owner = await user(t, node, 'own');
  const admin = await user(t, node, 'adm');
  const admin2 = await user(t, node, 'adm');
  const member = await user(t, node, 'mem');
  const other = await user(t, node, 'oth');
  const late = await user(t, node, 'late');
  const { channel } = await owner.create(`roles-${owner.name}`, 'private');
  t.is(channel.role, 'owner');
  const events = memberEvents(owner, channel.id);
  await owner.subscribe(channel.id);

  await owner.invite(channel.id, member.name);
  t.is(await codeOf(member.invite(channel.id, other.name)), ErrorCode.FORBIDDEN, 'a member cannot invite to private');
  t.is(await codeOf(member.kick(channel.id, owner.name)), ErrorCode.FORBIDDEN);
  t.is(await codeOf(member.setRole(channel.id, member.name, 'admin')), ErrorCode.FORBIDDEN);

  await owner.invite(channel.id, admin.name);
  await owner.invite(channel.id, admin2.name);
  await owner.setRole(channel.id, admin.name, 'admin');
  await owner.setRole(channel.id, admin2.name, 'admin');
  const role = async (c: TertuliaClient) => (await c.channels()).channels.find((x) => x.id === channel.id)?.role;
  t.is(await role(admin), 'admin');

  // An admin invites and kicks members...
  await admin.invite(channel.id, other.name);
  t.is((await other.history(channel.id)).messages.length, 0, 'the invited user sees the channel');
  await admin.kick(channel.id, other.name);
  t.is(await codeOf(other.history(channel.id)), ErrorCode.NO_SUCH_CHANNEL, 'kicked from private: gone');
  // ...but not the owner or another admin, and changes no roles.
  t.is(await codeOf(admin.kick(channel.id, owner.name)), ErrorCode.FORBIDDEN);
  t.is(await codeOf(admin.kick(channel.id, admin2.name)), ErrorCode.FORBIDDEN);
  t.is(await codeOf(admin.setRole(channel.id, member.name, 'admin')), ErrorCode.FORBIDDEN, 'only the owner changes roles');
  t.is(await codeOf(admin.setRole(channel.id, admin2.name, 'member')), ErrorCode.FORBIDDEN);
  t.is(await codeOf(owner.setRole(channel.id, owner.name, 'member')), ErrorCode.FORBIDDEN, 'the owner stays owner');
  t.is(await codeOf(owner.setRole(channel.id, late.name, 'admin')), ErrorCode.NOT_MEMBER);
  t.is(await codeOf(owner.kick(channel.id, late.name)), ErrorCode.NOT_MEMBER);
  t.is(await codeOf(owner.invite(channel.id, 'nobody-by-this-name')), ErrorCode.NO_SUCH_USER);
  t.is(await codeOf(owner.kick(channel.id, 'nobody-by-this-name')), ErrorCode.NO_SUCH_USER);

  // The owner may kick an admin and demote one.
  await owner.setRole(channel.id, admin2.name, 'member');
  t.is(await role(admin2), 'member');
  await admin.kick(channel.id, admin2.name);
  t.is(await codeOf(admin2.who(channel.id)), ErrorCode.NO_SUCH_CHANNEL);

  t.is(await codeOf(owner.leave(channel.id)), ErrorCode.FORBIDDEN, 'the owner cannot leave');
  await member.leave(channel.id);
  t.is(await codeOf(member.history(channel.id)), ErrorCode.NO_SUCH_CHANNEL, 'left a private channel: gone');
  t.is(await codeOf(member.leave(channel.id)), ErrorCode.NO_SUCH_CHANNEL);

  const who = (await owner.who(channel.id)).members.map((m) => [m.name, m.role]).sort();
  t.deepEqual(who, [[admin.name, 'admin'], [owner.name, 'owner']].sort());

  await eventually(() => events.length >= 10, 10000, 'member events');
  t.deepEqual(
    events.map((e) => [e.name, e.action, e.role]),
    [
      [member.name, 'invited', 'member'],
      [admin.name, 'invited', 'member'],
      [admin2.name, 'invited', 'member'],
      [admin.name, 'role', 'admin'],
      [admin2.name, 'role', 'admin'],
      [other.name, 'invited', 'member'],
      [other.name, 'kicked', undefined],
      [admin2.name, 'role', 'member'],
      [admin2.name, 'kicked', undefined],
      [member.name, 'left', undefined],
    ],
  );
  t.true(events.every((e) => typeof e.user === 'number'));
});

test('a kicked user stops receiving the channel at once and loses access', async (t) => {
  const owner = await user(t, node, 'own');
  const victim = await user(t, node, 'vic');
  const { channel } = await owner.create(`kick-${owner.name}`, 'private');
  const { channel: lobby } = await owner.create(`lobby-${owner.name}`, 'public');
  await owner.invite(channel.id, victim.name);
  await victim.close();

  // The victim speaks by hand, so the test sees what the server sends, not what a client library filters.
  const raw = await rawClient(node.port);
  t.teardown(() => raw.close());
  await raw.request('hello', { version: 1 });
  t.truthy((await raw.request('login', { name: victim.name, password: PASSWORD })).result);
  t.truthy((await raw.request('join', { channel: lobby.id })).result);
  t.truthy((await raw.request('subscribe', { channel: channel.id })).result);
  t.truthy((await raw.request('subscribe', { channel: lobby.id })).result);
  await owner.send(channel.id, 'before the kick');
  await raw.next((f) => f.ev === 'msg' && f.body === 'before the kick');

  await owner.kick(channel.id, victim.name);
  const kicked = await raw.next((f) => f.ev === 'member' && f.action === 'kicked');
  t.like(kicked, { channel: channel.id, name: victim.name });
  await owner.send(channel.id, 'after the kick');
  // Written after the previous send was acknowledged, on the same connection: once this arrives,
  // anything the server had queued for the kicked subscription has arrived too.
  await owner.send(lobby.id, 'sentinel');
  await raw.next((f) => f.ev === 'msg' && f.body === 'sentinel');
  t.false(raw.frames.some((f) => f.ev === 'msg' && f.channel === channel.id && f.body === 'after the kick'));

  t.is(errorCode(await raw.request('history', { channel: channel.id })), ErrorCode.NO_SUCH_CHANNEL);
  t.is(errorCode(await raw.request('subscribe', { channel: channel.id })), ErrorCode.NO_SUCH_CHANNEL);
  t.is(errorCode(await raw.request('send', { channel: channel.id, cmid: 'k1', body: 'let me back' })), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await node.store.countMessages(channel.id), 2);
});

test('the client library forgets a subscription it was kicked from', async (t) => {
  const owner = await user(t, node, 'own');
  const victim = await user(t, node, 'vic');
  const { channel } = await owner.create(`kick2-${owner.name}`, 'public');
  await victim.join(channel.id);
  const events = memberEvents(victim, channel.id);
  await victim.subscribe(channel.id);
  await owner.kick(channel.id, victim.name);
  await eventually(() => events.some((e) => e.action === 'kicked'), 10000, 'kicked event');
  t.deepEqual(victim.subscribedChannels(), []);
  // A public channel stays visible, but the kicked user is no member any more.
  t.is(await codeOf(victim.send(channel.id, 'still here?', undefined, { timeoutMs: 3000 })), ErrorCode.NOT_MEMBER);
  t.false((await victim.channels()).channels.some((c) => c.id === channel.id));
  // Rejoining a public channel is allowed.
  t.is((await victim.join(channel.id)).channel.role, 'member');
});

test('public channels: join by name, find by prefix with a limit, channels with role and unread', async (t) => {
  const owner = await user(t, node, 'own');
  const guest = await user(t, node, 'gst');
  const prefix = `pub${owner.name}`;
  const created = [];
  for (const suffix of ['a', 'b', 'c']) created.push((await owner.create(`${prefix}-${suffix}`, 'public', `topic ${suffix}`)).channel);
  await owner.create(`${prefix}-hidden`, 'private');
  const [a, b] = created as [typeof created[0], typeof created[0]];
  const seen = memberEvents(owner, a.id);
  await owner.subscribe(a.id);

  const joined = await guest.join(`${prefix}-a`);
  t.is(joined.channel.id, a.id);
  t.is(joined.channel.role, 'member');
  t.is((await guest.join(a.id)).channel.id, a.id, 'join is idempotent');
  t.is((await guest.join(`${prefix}-B`.toUpperCase())).channel.id, b.id, 'names are case-insensitive');
  t.is(await codeOf(guest.join(`${prefix}-nope`)), ErrorCode.NO_SUCH_CHANNEL);
  t.is(await codeOf(guest.join(`${prefix}-hidden`)), ErrorCode.NO_SUCH_CHANNEL);

  const all = (await guest.find(prefix)).channels;
  t.deepEqual(all.map((c) => c.name).sort(), [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
  t.true(all.every((c) => c.kind === 'public'));
  t.is((await guest.find(prefix, 2)).channels.length, 2, 'the limit is respected');
  t.is((await guest.find(prefix, 1)).channels.length, 1);
  t.deepEqual((await guest.find(`${prefix}-c`)).channels.map((c) => c.topic), ['topic c']);
  t.deepEqual((await guest.find(`${prefix}-zzz`)).channels, []);

  for (let i = 0; i < 3; i++) await owner.send(a.id, `m${i}`);
  await guest.read(a.id, 1);
  const mine = (await guest.channels()).channels.filter((c) => c.name?.startsWith(prefix));
  t.deepEqual(
    mine.map((c) => [c.name, c.role, c.lastSeq, c.lastReadSeq, c.unread]).sort(),
    [
      [`${prefix}-a`, 'member', 3, 1, 2],
      [`${prefix}-b`, 'member', 0, 0, 0],
    ],
  );
  const ownerView = (await owner.channels()).channels.filter((c) => c.name?.startsWith(prefix));
  t.is(ownerView.length, 4);
  t.true(ownerView.every((c) => c.role === 'owner'));

  await guest.leave(a.id);
  t.is(await codeOf(guest.send(a.id, 'x', undefined, { timeoutMs: 3000 })), ErrorCode.NOT_MEMBER);
  t.is(await codeOf(guest.leave(a.id)), ErrorCode.NOT_MEMBER);
  await eventually(() => seen.length >= 2, 10000, 'member events');
  t.deepEqual(seen.map((e) => [e.name, e.action]), [
    [guest.name, 'joined'],
    [guest.name, 'left'],
  ]);
});

test('membership ops on a direct channel are WRONG_CHANNEL_KIND; direct needs another existing user', async (t) => {
  const a = await user(t, node, 'dm');
  const b = await user(t, node, 'dm');
  const c = await user(t, node, 'dm');
  const dm = (await a.direct(b.name)).channel;
  t.is(dm.kind, 'direct');
  t.is(dm.name, null);
  t.is(dm.peer, b.name);
  t.is(await codeOf(a.invite(dm.id, c.name)), ErrorCode.WRONG_CHANNEL_KIND);
  t.is(await codeOf(a.kick(dm.id, b.name)), ErrorCode.WRONG_CHANNEL_KIND);
  t.is(await codeOf(a.setRole(dm.id, b.name, 'admin')), ErrorCode.WRONG_CHANNEL_KIND);
  t.is(await codeOf(a.leave(dm.id)), ErrorCode.WRONG_CHANNEL_KIND);
  t.is(await codeOf(b.join(dm.id)), ErrorCode.WRONG_CHANNEL_KIND);
  t.is(await codeOf(a.direct(a.name)), ErrorCode.INVALID_FIELD);
  t.is(await codeOf(a.direct(a.name.toUpperCase())), ErrorCode.INVALID_FIELD, 'yourself, in any case');
  t.is(await codeOf(a.direct('no-such-user-here')), ErrorCode.NO_SUCH_USER);
  t.deepEqual((await b.who(dm.id)).members.map((m) => m.name).sort(), [a.name, b.name].sort());
});

test('taken names: CHANNEL_EXISTS and NAME_TAKEN, case-insensitively', async (t) => {
  const a = await user(t, node, 'nm');
  const name = `taken-${a.name}`;
  const { channel } = await a.create(name, 'public');
  t.is(channel.name, name);
  t.is(await codeOf(a.create(name, 'public')), ErrorCode.CHANNEL_EXISTS);
  t.is(await codeOf(a.create(name, 'private')), ErrorCode.CHANNEL_EXISTS);
  t.is(await codeOf(a.create(name.toUpperCase(), 'public')), ErrorCode.CHANNEL_EXISTS);

  const fresh = await client(t, node);
  t.is(await codeOf(fresh.register(a.name, 'another password')), ErrorCode.NAME_TAKEN);
  t.is(await codeOf(fresh.register(a.name.toUpperCase(), 'another password')), ErrorCode.NAME_TAKEN);
  const r = await fresh.login(a.name.toUpperCase(), PASSWORD);
  t.is(r.name, a.name, 'replies use lowercase');
});

test('logout revokes the token and leaves the connection unauthenticated', async (t) => {
  const a = await user(t, node, 'out');
  const token = a.token!;
  const raw = await rawClient(node.port);
  t.teardown(() => raw.close());
  await raw.request('hello', { version: 1 });
  t.truthy((await raw.request('auth', { token })).result);
  t.truthy((await raw.request('channels')).result);
  t.deepEqual((await raw.request('logout')).result, {});
  t.is(errorCode(await raw.request('channels')), ErrorCode.NOT_AUTHENTICATED, 'the connection is unauthenticated again');
  t.is(errorCode(await raw.request('auth', { token })), ErrorCode.INVALID_TOKEN, 'the token is revoked');
  t.false(raw.isClosed());

  const elsewhere = await client(t, node);
  t.is(await codeOf(elsewhere.auth(token)), ErrorCode.INVALID_TOKEN, 'on every connection');
  // The user can sign in again, on the same connection too.
  const again = await raw.request('login', { name: a.name, password: PASSWORD });
  t.truthy(again.result);
  t.not((again.result as { token: string }).token, token);

  const lib = await user(t, node, 'out');
  const libToken = lib.token!;
  await lib.logout();
  t.is(lib.token, undefined);
  t.is(await codeOf(lib.channels()), ErrorCode.NOT_AUTHENTICATED);
  t.is(await codeOf(lib.auth(libToken)), ErrorCode.INVALID_TOKEN);
});
