import test from 'ava';
import { DecodeError, MAX_DEPTH, decode, encode, encodeFrame } from '../../protocol/codec.js';
import { FrameDecoder } from '../../protocol/frame.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function rejects(t: import('ava').ExecutionContext, bytes: Buffer, what: RegExp, label?: string) {
  const err = t.throws(() => decode(bytes), { instanceOf: DecodeError }, label);
  if (err) t.regex(err.message, what, label);
}

test('round trip of every plain type', (t) => {
  const value = {
    nil: null, t: true, f: false, small: 5, neg: -33, u16: 65535, u32: 0xffffffff, i32: -0x80000000,
    big: 2 ** 53 - 1, negBig: -(2 ** 40), float: 1.5, str: '¡Hola, señor! 🎉', empty: '',
    long: 'x'.repeat(70000), arr: [1, [2, [3]]], map: { a: { b: {} } }, bin: Buffer.from([0, 1, 255]),
  };
  t.deepEqual(decode(encode(value)), value);
});

test('integers use the smallest encoding, 64-bit ones included, never float', (t) => {
  const cases: [number, string][] = [
    [0, '00'], [127, '7f'], [128, 'cc80'], [256, 'cd0100'], [65536, 'ce00010000'], [-1, 'ff'], [-32, 'e0'],
    [-33, 'd0df'], [-129, 'd1ff7f'], [-32769, 'd2ffff7fff'], [2 ** 32, 'cf0000000100000000'],
    [1733244000000, 'cf000001938d649700'], [-(2 ** 31) - 1, 'd3ffffffff7fffffff'], [2 ** 53 - 1, 'cf001fffffffffffff'],
  ];
  for (const [n, h] of cases) t.is(encode(n).toString('hex'), h, String(n));
  t.is(encode(0.5).toString('hex'), 'cb3fe0000000000000');
  t.is(encode(2 ** 53).toString('hex'), 'cb4340000000000000', 'beyond 2^53 a number is a float');
});

test('maps are fixmaps when small, undefined fields are omitted, strings smallest', (t) => {
  t.is(encode({ a: 1, b: undefined }).toString('hex'), '81a16101');
  t.is(encode([undefined]).toString('hex'), '91c0');
  t.is(encode('x'.repeat(32)).subarray(0, 2).toString('hex'), 'd920');
  const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]));
  t.is(encode(sixteen).subarray(0, 3).toString('hex'), 'de0010');
});

test('encode refuses what has no plain MessagePack form', (t) => {
  t.throws(() => encode(new Date(0)), { instanceOf: TypeError });
  t.throws(() => encode({ at: new Date(0) }), { instanceOf: TypeError });
  t.throws(() => encode(new Map([[1, 'a']])), { instanceOf: TypeError });
  t.throws(() => encode(JSON.parse('{"__proto__": 1}')), { instanceOf: TypeError });
});

test('encodeFrame is the length header plus encode', (t) => {
  const value = { ev: 'typing', channel: 9, user: 3, name: 'ana' };
  const f = encodeFrame(value);
  const body = encode(value);
  t.is(f.readUInt32BE(0), body.length);
  t.deepEqual(f.subarray(4), body);
  const out: unknown[] = [];
  new FrameDecoder(1024).push(Buffer.concat([f, encodeFrame({ ts: 1733244000000 })]), (p) => out.push(decode(p)));
  t.deepEqual(out, [value, { ts: 1733244000000 }]);
});

test('every ext type is refused, fixext and ext 8/16/32', (t) => {
  for (const type of ['00', '72', '62', '65', '69', '70', '73', '74', '78', 'ff', '42']) {
    rejects(t, hex(`d4${type}00`), /extension/, `fixext1 ${type}`);
    rejects(t, hex(`d5${type}0000`), /extension/, `fixext2 ${type}`);
    rejects(t, hex(`d6${type}00000000`), /extension/, `fixext4 ${type}`);
    rejects(t, hex(`d7${type}${'00'.repeat(8)}`), /extension/, `fixext8 ${type}`);
    rejects(t, hex(`d8${type}${'00'.repeat(16)}`), /extension/, `fixext16 ${type}`);
    rejects(t, hex(`c701${type}00`), /extension/, `ext8 ${type}`);
    rejects(t, hex(`c80001${type}00`), /extension/, `ext16 ${type}`);
    rejects(t, hex(`c900000001${type}00`), /extension/, `ext32 ${type}`);
  }
  // msgpackr would decode this as a Date.
  rejects(t, hex('81a174d6ff00000000'), /extension/);
});

test('record definitions are refused, so fixints 0x40-0x7f stay integers', (t) => {
  // msgpackr alone decodes this as [{a: 1}, {a: 2}]: d4 72 40 defines record 0x40
  // with keys ["a"], and the later fixint 0x40 becomes an object.
  rejects(t, hex('92 d47240 91a161 01 40 02'), /extension/);
  t.deepEqual(decode(hex('924041')), [64, 65]);
});

test('the never-used byte 0xc1 is refused', (t) => {
  rejects(t, hex('c1'), /0xc1/);
  rejects(t, hex('91c1'), /0xc1/);
});

test('prototype keys are refused', (t) => {
  rejects(t, hex('81a95f5f70726f746f5f5fc3'), /__proto__/); // msgpackr would rename it "__proto_"
  rejects(t, hex('81ab636f6e7374727563746f72c3'), /constructor/);
  rejects(t, hex('81a970726f746f74797065c3'), /prototype/);
  const ok = decode(hex('81a9636f6e737472756374c3')) as Record<string, unknown>; // "construct" is fine
  t.is(ok.construct, true);
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

test('non-string map keys are refused', (t) => {
  rejects(t, hex('810102'), /key/); // msgpackr would coerce to "1"
  rejects(t, hex('81c001'), /key/);
  rejects(t, hex('81c301'), /key/);
  rejects(t, hex('819101 01'), /key/);
  rejects(t, hex('81c40161 01'), /key/); // bin key
});

test('declared lengths beyond the buffer are refused before allocating', (t) => {
  rejects(t, hex('dbffffffff41'), /declared/);
  rejects(t, hex('daffff41'), /declared/);
  rejects(t, hex('d9ff41'), /declared/);
  rejects(t, hex('c6ffffffff00'), /declared/);
  rejects(t, hex('ddffffffff00'), /array/);
  rejects(t, hex('dcffff00'), /array/);
  rejects(t, hex('dfffffffff00'), /map/);
  rejects(t, hex('9f00'), /array/);
  rejects(t, hex('8fa16100'), /map/);
  rejects(t, hex('cd00'), /declared/);
  rejects(t, hex('cb000000'), /declared/);
});

test('truncated, empty and trailing input are refused', (t) => {
  rejects(t, Buffer.alloc(0), /truncated/);
  rejects(t, hex('82a16101a162'), /truncated|declared/);
  rejects(t, hex('c000'), /trailing/);
  rejects(t, hex('81a16101 81a16101'), /trailing/);
});

test('invalid UTF-8 in strings and keys is refused', (t) => {
  rejects(t, hex('a2c328'), /UTF-8/);
  rejects(t, hex('a3eda080'), /UTF-8/); // a lone surrogate, CESU-8 style
  rejects(t, hex('81a2ff6101'), /UTF-8/);
  rejects(t, Buffer.concat([hex('d9ff'), Buffer.alloc(254, 0x61), hex('ff')]), /UTF-8/);
});

test('nesting deeper than MAX_DEPTH is refused without exhausting the stack', (t) => {
  const deep = (n: number) => Buffer.concat([Buffer.alloc(n, 0x91), hex('00')]);
  t.notThrows(() => decode(deep(MAX_DEPTH)));
  rejects(t, deep(MAX_DEPTH + 1), /deeper/);
  rejects(t, deep(1 << 20), /deeper/);
  const maps = Buffer.concat([Buffer.alloc(3 * 100_000).fill(hex('81a161')), hex('00')]); // {a: {a: ...}}
  rejects(t, maps, /deeper/);
});

test('bin decodes to a copy, not a view of the payload', (t) => {
  const payload = hex('c403010203');
  const bin = decode(payload) as Uint8Array;
  t.deepEqual([...bin], [1, 2, 3]);
  payload[2] = 9;
  t.is(bin[0], 1);
});

test('64-bit integers beyond 2^53 come back as BigInt, never rounded', (t) => {
  t.is(decode(hex('cf0000000100000000')), 2 ** 32);
  t.is(decode(hex('d3ffffffffffffffff')), -1);
  t.is(typeof decode(hex('cfffffffffffffffff')), 'bigint');
});

test('garbage never escapes as anything but DecodeError', (t) => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 20000; i++) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 24) }, () => Math.floor(rnd() * 256)));
    try {
      decode(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) t.fail(`${bytes.toString('hex')}: ${String(err)}`);
    }
  }
  t.pass();
});
