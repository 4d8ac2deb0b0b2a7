import test from 'ava';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../protocol/errors.js';
import { encode } from '../../protocol/codec.js';
import type { RunningNode } from '../../runtime/node.js';
import { rawClient } from '../harness/raw.js';
import { startPod, user, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);
let node: RunningNode;

test.before(async () => {
  node = await startPod({ databaseUrl: await (await pg()).createDatabase(), maxFrameBytes: 64 * 1024 });
});
test.after.always(async () => {
  await node?.stop();
});

const errorCode = (f: Record<string, unknown>) => (f.error as { code: number } | undefined)?.code;

async function greeted() {
  const r = await rawClient(node.port);
  const hello = await r.request('hello', { version: 1 });
  if (!hello.result) throw new Error('hello failed');
  return r;
}

test('bad input gets documented codes, others keep chatting, nothing rejected is stored', async (t) => {
  const a = await user(t, node);
  const { channel } = await a.create(`bad-${a.name}`, 'public');
  await a.send(channel.id, 'before');
  const rows = await node.store.countMessages(channel.id);

  // Random bytes: the header announces some length; either too large or garbage.
  for (let i = 0; i < 5; i++) {
    const r = await rawClient(node.port);
    r.socket.write(randomBytes(64));
    const big = Buffer.alloc(4);
    big.writeUInt32BE(0xfffffff0);
    r.socket.write(big);
    const f = await r.next((x) => x.ev === 'error');
    t.true(([ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LARGE] as number[]).includes(errorCode(f)!), `random ${i}`);
    await r.closed;
  }

  // A frame whose payload is not MessagePack.
  {
    const r = await rawClient(node.port);
    const junk = Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]);
    r.socket.write(junk);
    t.is(errorCode(await r.next((x) => x.ev === 'error')), ErrorCode.BAD_FRAME);
    await r.closed;
  }

  // A declared length over the cap closes before the body is sent.
  {
    const r = await rawClient(node.port);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(64 * 1024 + 1);
    r.socket.write(header);
    t.is(errorCode(await r.next((x) => x.ev === 'error')), ErrorCode.FRAME_TOO_LARGE);
    await r.closed;
  }

  // A truncated frame, then the client vanishes.
  {
    const r = await rawClient(node.port);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(100);
    r.socket.write(Buffer.concat([header, Buffer.alloc(40)]));
    r.close();
  }

  // Requests before hello and before authentication; the connection stays up.
  const r = await rawClient(node.port);
  t.is(errorCode(await r.request('channels')), ErrorCode.HELLO_REQUIRED);
  t.is(errorCode(await r.request('hello', { version: 99 })), ErrorCode.UNSUPPORTED_VERSION);
  t.truthy((await r.request('hello', { version: 1 })).result);
  t.is(errorCode(await r.request('send', { channel: channel.id, cmid: 'x', body: 'sneaky' })), ErrorCode.NOT_AUTHENTICATED);
  t.is(errorCode(await r.request('login', { name: a.name, password: 'wrong password' })), ErrorCode.BAD_CREDENTIALS);
  t.is(errorCode(await r.request('auth', { token: 'nope' })), ErrorCode.INVALID_TOKEN);

  // Valid MessagePack of the wrong shape.
  r.send([1, 2, 3]);
  t.is(errorCode(await r.next((x) => x.ev === 'error')), ErrorCode.BAD_REQUEST);
  t.is(errorCode(await r.request('no-such-op')), ErrorCode.UNKNOWN_OP);
  const login = await r.request('login', { name: a.name, password: 'correct horse battery' });
  t.truthy(login.result);
  t.is(errorCode(await r.request('send', { channel: 'general', cmid: 'c1', body: 'x' })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('send', { channel: channel.id, cmid: 'c1', body: 42 })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('send', { channel: channel.id, cmid: 'c1', body: '' })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('send', { channel: channel.id, cmid: 'c1', body: 'nul\u0000' })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('send', { channel: channel.id, cmid: 'c1', body: 'x'.repeat(4001) })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('send', { channel: channel.id, cmid: 'bad cmid!', body: 'x' })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('send', { channel: -1, cmid: 'c1', body: 'x' })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('history', { channel: channel.id, before: 2, after: 1 })), ErrorCode.INVALID_FIELD);
  t.is(errorCode(await r.request('send', { channel: 987654321, cmid: 'c1', body: 'x' })), ErrorCode.NO_SUCH_CHANNEL);

  // Everyone else is still served, and nothing rejected was stored.
  const b = await user(t, node);
  await b.join(channel.id);
  const ack = await b.send(channel.id, 'after');
  t.is(ack.seq, 2);
  t.is(await node.store.countMessages(channel.id), rows + 1);
  // An empty payload is not a MessagePack value.
  const seen = r.frames.length;
  r.socket.write(Buffer.from([0, 0, 0, 0]));
  t.is(errorCode(await r.next((x) => x.ev === 'error' && r.frames.indexOf(x) >= seen)), ErrorCode.BAD_FRAME);
  await r.closed;
});

test('a valid request is answered on a connection after a bad one', async (t) => {
  const r = await greeted();
  r.send({ op: 'ping' }); // no id
  t.is(errorCode(await r.next((x) => x.ev === 'error')), ErrorCode.BAD_REQUEST);
  r.send(encode('just a string'));
  t.truthy((await r.request('ping')).result);
  r.close();
});
