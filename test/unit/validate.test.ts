import test from 'ava';
import { ErrorCode } from '../../protocol/errors.js';
import type { Op } from '../../protocol/messages.js';
import { OPS, parseRequest } from '../../protocol/validate.js';

// Record<Op, ...> makes the compiler insist on every op of `Requests`.
const VALID: Record<Op, Record<string, unknown>> = {
  hello: { version: 1, client: 'tertulia-cli/0.1 (linux)' },
  ping: {},
  register: { name: 'Ana.Maria_1', password: 'correct horse' },
  login: { name: 'ana', password: 'contraseña' },
  auth: { token: 'q3Jd-_9'.repeat(6) + 'x' },
  logout: {},
  create: { name: 'General-1', kind: 'public', topic: 'Café ☕' },
  join: { channel: 5 },
  leave: { channel: 5 },
  invite: { channel: 5, user: 'Bob' },
  kick: { channel: 5, user: 'bob' },
  role: { channel: 5, user: 'bob', role: 'admin' },
  channels: {},
  find: { prefix: 'gen', limit: 100 },
  direct: { user: 'bob' },
  send: { channel: 5, cmid: 'a1:b2.c3-d_4', body: '¡Hola, señor! 🎉' },
  edit: { channel: 5, seq: 1, body: 'fixed' },
  delete: { channel: 5, seq: 9 },
  history: { channel: 5, before: 100, limit: 200 },
  subscribe: { channel: 5, after: 0 },
  unsubscribe: { channel: 5 },
  read: { channel: 5, seq: 0 },
  who: { channel: 5 },
  typing: { channel: 5 },
  upload: { name: 'Foto de la playa.JPG', type: 'Image/JPEG', size: 5 * 1024 * 1024, sha256: 'AB'.repeat(32) },
  chunk: { upload: 'abcdefghijklmnopqrstu_', offset: 0, data: Buffer.from([1, 2, 3]) },
  finish: { upload: 'abcdefghijklmnopqrstu-' },
  download: { attachment: 'ABCDEFGHIJKLMNOPQRSTUV', offset: 262144, length: 1 },
};

function parse(op: string, fields: Record<string, unknown>, id = 7) {
  return parseRequest({ op, id, ...fields });
}

function invalid(t: import('ava').ExecutionContext, op: string, fields: Record<string, unknown>, field: string) {
  const r = parse(op, fields);
  const label = `${op} ${JSON.stringify(fields, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)).slice(0, 80)}`;
  if (r.ok) return t.fail(`${label} was accepted`);
  t.is(r.id, 7, label);
  t.is(r.error.code, ErrorCode.INVALID_FIELD, label);
  t.true(r.error.message.startsWith(`${field}:`) || r.error.message.includes(field), `${label}: ${r.error.message}`);
}

test('the schema table covers exactly the ops of Requests', (t) => {
  t.deepEqual([...OPS].sort(), Object.keys(VALID).sort());
});

test('every op accepts its valid example and keeps only its fields', (t) => {
  for (const op of OPS) {
    const r = parse(op, { ...VALID[op], extra: 'ignored' });
    if (!r.ok) {
      t.fail(`${op}: ${r.error.message}`);
      continue;
    }
    t.is(r.op, op);
    t.is(r.id, 7);
    t.false('extra' in r.args, op);
  }
});

test('names come out lowercased; other strings untouched', (t) => {
  const reg = parse('register', VALID.register);
  t.like(reg, { ok: true, args: { name: 'ana.maria_1', password: 'correct horse' } });
  t.like(parse('create', VALID.create), { ok: true, args: { name: 'general-1', topic: 'Café ☕' } });
  t.like(parse('invite', VALID.invite), { ok: true, args: { user: 'bob' } });
  t.like(parse('join', { name: 'General' }), { ok: true, args: { name: 'general' } });
  t.like(parse('find', { prefix: 'GEN' }), { ok: true, args: { prefix: 'gen' } });
  t.like(parse('send', { ...VALID.send, cmid: 'AbC' }), { ok: true, args: { cmid: 'AbC' } });
});

test('not a map, or no usable id: BAD_REQUEST with no id', (t) => {
  for (const v of [null, 3, 'x', [1, 2], Buffer.from('op'), true]) {
    t.like(parseRequest(v), { ok: false, id: null, error: { code: ErrorCode.BAD_REQUEST } }, String(v));
  }
  for (const id of [undefined, null, -1, 1.5, 2 ** 32, '7', 7n]) {
    t.like(parseRequest({ op: 'ping', id }), { ok: false, id: null, error: { code: ErrorCode.BAD_REQUEST } }, String(id));
  }
  t.like(parseRequest({ op: 'ping', id: 0xffffffff }), { ok: true, id: 0xffffffff });
  t.like(parseRequest({ op: 'ping', id: 0 }), { ok: true, id: 0 });
});

test('bad op with a usable id: BAD_REQUEST; unknown op: UNKNOWN_OP, both echo the id', (t) => {
  for (const op of [undefined, 3, null, ['send']]) {
    t.like(parseRequest({ op, id: 4 }), { ok: false, id: 4, error: { code: ErrorCode.BAD_REQUEST } });
  }
  for (const op of ['nope', 'toString', '__proto__', 'hasOwnProperty', 'SEND', '']) {
    t.like(parseRequest({ op, id: 4 }), { ok: false, id: 4, error: { code: ErrorCode.UNKNOWN_OP } }, op);
  }
  const long = parseRequest({ op: 'x'.repeat(10_000), id: 4 });
  t.true(!long.ok && long.error.message.length < 100);
});

const OPTIONAL = new Set(['download.offset', 'download.length', 'hello.client', 'create.topic', 'find.limit', 'history.before', 'history.limit', 'subscribe.after', 'join.channel']);

test('missing required fields', (t) => {
  for (const op of OPS) {
    for (const field of Object.keys(VALID[op])) {
      if (OPTIONAL.has(`${op}.${field}`)) continue;
      const { [field]: _, ...rest } = VALID[op];
      invalid(t, op, rest, field);
      invalid(t, op, { ...rest, [field]: null }, field);
    }
  }
});

test('optional fields may be absent or nil', (t) => {
  t.like(parse('hello', { version: 1, client: null }), { ok: true, args: { version: 1 } });
  t.like(parse('history', { channel: 1 }), { ok: true, args: { channel: 1 } });
  t.like(parse('subscribe', { channel: 1, after: null }), { ok: true });
  t.like(parse('create', { name: 'a', kind: 'private' }), { ok: true });
});

const INTEGER_FIELDS: [Op, string, number, number][] = [
  ['hello', 'version', 0, Number.MAX_SAFE_INTEGER],
  ['leave', 'channel', 1, Number.MAX_SAFE_INTEGER],
  ['edit', 'seq', 1, Number.MAX_SAFE_INTEGER],
  ['delete', 'seq', 1, Number.MAX_SAFE_INTEGER],
  ['read', 'seq', 0, Number.MAX_SAFE_INTEGER],
  ['history', 'after', 0, Number.MAX_SAFE_INTEGER],
  ['subscribe', 'after', 0, Number.MAX_SAFE_INTEGER],
  ['history', 'limit', 1, 200],
  ['find', 'limit', 1, 100],
];

test('integers: negative, float, too large, wrong type; bounds accepted', (t) => {
  for (const [op, field, min, max] of INTEGER_FIELDS) {
    const base = { ...VALID[op] };
    delete base.before;
    for (const bad of [min - 1, -1, 1.5, max + 1, 2 ** 64, Infinity, NaN, '5', true, [1], { n: 1 }, 5n]) {
      invalid(t, op, { ...base, [field]: bad }, field);
    }
    for (const good of [min, max]) t.like(parse(op, { ...base, [field]: good }), { ok: true }, `${op}.${field}=${good}`);
  }
});

const STRING_FIELDS: [Op, string, string[], unknown[]][] = [
  ['register', 'name', ['a', '9x', 'A.b-c_d', 'x'.repeat(32)], ['', '_a', '.a', '-a', 'x'.repeat(33), 'a b', 'añ', 'a@b', 'a\u0000']],
  ['create', 'name', ['a', '1-general', 'x'.repeat(64)], ['', '-a', 'a.b', 'x'.repeat(65), 'a b', 'café', '#a']],
  ['find', 'prefix', ['', '-', 'x'.repeat(64)], ['x'.repeat(65), 'a.b', 'ñ', ' ']],
  ['register', 'password', ['12345678', 'ñ'.repeat(128), 'x'.repeat(256)], ['1234567', 'ñ'.repeat(129), 'x'.repeat(257)]],
  ['auth', 'token', ['a', 'x'.repeat(128), 'A-_z09'], ['', 'x'.repeat(129), 'a+b', 'a/b', 'a=']],
  ['send', 'cmid', ['a', 'x'.repeat(64), 'A.b:c-d_e'], ['', 'x'.repeat(65), 'a b', 'a/b', 'ñ']],
  ['send', 'body', ['x', 'x'.repeat(4000), '🎉'.repeat(4000), 'tab\tand\nnewline'], ['', 'x'.repeat(4001), '🎉'.repeat(4001), 'a\u0000b']],
  ['edit', 'body', ['x'], ['', 'a\u0000']],
  ['create', 'topic', ['', 'x'.repeat(200), '🎉'.repeat(200)], ['x'.repeat(201), 'a\nb', 'a\u0007', 'a\u007f', 'a\u0085']],
  ['hello', 'client', ['', 'x'.repeat(64), 'cli/1 (ñ)'], ['x'.repeat(65), 'a\tb']],
  ['create', 'kind', ['public', 'private'], ['direct', 'Public', '']],
  ['role', 'role', ['admin', 'member'], ['owner', 'Admin', '']],
  ['invite', 'user', ['bob', 'Bob.2'], ['', '_bob', 'x'.repeat(33)]],
  ['direct', 'user', ['bob'], ['b b']],
];

test('strings: length, charset, NUL, wrong type', (t) => {
  for (const [op, field, goods, bads] of STRING_FIELDS) {
    for (const good of goods) t.like(parse(op, { ...VALID[op], [field]: good }), { ok: true }, `${op}.${field}=${good.slice(0, 20)}`);
    for (const bad of [...bads, 5, true, ['x'], { s: 'x' }, Buffer.from('abcdefgh')]) {
      invalid(t, op, { ...VALID[op], [field]: bad }, field);
    }
  }
});

test('the message names the field and the rule', (t) => {
  const r = parse('send', { channel: 5, cmid: 'c', body: 'x'.repeat(4001) });
  t.false(r.ok);
  if (!r.ok) t.is(r.error.message, 'body: must be 0-4000 characters without NUL');
  const empty = parse('send', { channel: 5, cmid: 'c', body: '' });
  if (!empty.ok) t.is(empty.error.message, 'body: must not be empty without attachments');
  else t.fail('an empty body without attachments was accepted');
});

test('join takes exactly one of channel and name', (t) => {
  invalid(t, 'join', { channel: 5, name: 'general' }, 'channel');
  invalid(t, 'join', {}, 'channel');
  invalid(t, 'join', { channel: null, name: null }, 'name');
  invalid(t, 'join', { channel: 0 }, 'channel');
  invalid(t, 'join', { name: 'a b' }, 'name');
});

test('history takes at most one of before and after', (t) => {
  invalid(t, 'history', { channel: 5, before: 10, after: 2 }, 'before');
  t.like(parse('history', { channel: 5, after: 2, limit: 1 }), { ok: true, args: { after: 2, limit: 1 } });
});

test('attachments: ids, file names, content types, checksums and chunks', (t) => {
  const id = 'abcdefghijklmnopqrstu_';
  t.like(parse('send', { channel: 5, cmid: 'c', body: '', attachments: [id] }), { ok: true, args: { body: '', attachments: [id] } });
  t.like(parse('upload', VALID.upload), { ok: true, args: { type: 'image/jpeg', sha256: 'ab'.repeat(32), name: 'Foto de la playa.JPG' } });
  for (const bad of [[], [id, id], Array.from({ length: 11 }, (_, i) => id.slice(0, 20) + String(i).padStart(2, '0')), ['short'], [5], id]) {
    invalid(t, 'send', { ...VALID.send, attachments: bad }, 'attachments');
  }
  t.like(parse('send', { ...VALID.send, attachments: Array.from({ length: 10 }, (_, i) => id.slice(0, 20) + String(i).padStart(2, '0')) }), { ok: true });
  for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\u0000', 'tab\tname', 'x'.repeat(256), 5]) invalid(t, 'upload', { ...VALID.upload, name: bad }, 'name');
  for (const good of ['..hidden', 'ñandú 🎉.png', 'x'.repeat(255)]) t.like(parse('upload', { ...VALID.upload, name: good }), { ok: true }, good);
  for (const bad of ['', 'image', 'image/', '/png', 'image/png; charset=x', 'text/plain ', 'a/b/c', 'x/' + 'y'.repeat(254)]) {
    invalid(t, 'upload', { ...VALID.upload, type: bad }, 'type');
  }
  for (const good of ['application/vnd.tertulia+json', 'text/x-c++', 'a/b']) t.like(parse('upload', { ...VALID.upload, type: good }), { ok: true }, good);
  for (const bad of ['ab'.repeat(31), 'ab'.repeat(33), 'zz'.repeat(32), Buffer.alloc(32)]) invalid(t, 'upload', { ...VALID.upload, sha256: bad }, 'sha256');
  for (const bad of [-1, 1.5, '5', 2 ** 53]) invalid(t, 'upload', { ...VALID.upload, size: bad }, 'size');
  t.like(parse('upload', { ...VALID.upload, size: 0 }), { ok: true });
  for (const bad of [Buffer.alloc(0), Buffer.alloc(4 * 1024 * 1024 + 1), 'bytes', [1, 2], { 0: 1 }]) {
    invalid(t, 'chunk', { ...VALID.chunk, data: bad }, 'data');
  }
  t.like(parse('chunk', { ...VALID.chunk, data: new Uint8Array(4 * 1024 * 1024) }), { ok: true });
  for (const bad of ['abcdefghijklmnopqrstu', 'abcdefghijklmnopqrstuvw', 'abcdefghijklmnopqrst+/']) invalid(t, 'finish', { upload: bad }, 'upload');
  invalid(t, 'download', { attachment: id, length: 0 }, 'length');
  invalid(t, 'download', { attachment: id, offset: -1 }, 'offset');
});
