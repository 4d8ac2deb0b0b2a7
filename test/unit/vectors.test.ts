import test from 'ava';
import { readFileSync } from 'node:fs';
import { decode, encodeFrame } from '../../protocol/codec.js';
import { FrameDecoder } from '../../protocol/frame.js';
import { parseRequest } from '../../protocol/validate.js';

interface Vector {
  name: string;
  description: string;
  value: unknown;
  hex: string;
}

const vectors = JSON.parse(readFileSync(new URL('../../protocol-vectors.json', import.meta.url), 'utf8')) as Vector[];

/** JSON form -> wire form: {"$bin": hex} becomes bytes. */
function toWire(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$bin === 'string') return Buffer.from(o.$bin, 'hex');
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, toWire(x)]));
  }
  return v;
}

/** Wire form -> JSON form. */
function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bin: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

test('the vectors cover requests, replies, error replies and events', (t) => {
  const kinds = new Set(vectors.map((v) => kindOf(v.value)));
  t.deepEqual([...kinds].sort(), ['error-reply', 'event', 'reply', 'request']);
  t.is(new Set(vectors.map((v) => v.name)).size, vectors.length, 'names are unique');
});

for (const v of vectors) {
  test(`vector ${v.name}: decodes to its value`, (t) => {
    const bytes = Buffer.from(v.hex, 'hex');
    const payloads: Buffer[] = [];
    const fault = new FrameDecoder(1 << 20).push(bytes, (p) => payloads.push(p));
    t.is(fault, null);
    t.is(payloads.length, 1, 'exactly one whole frame');
    t.deepEqual(toJson(decode(payloads[0])), v.value);
  });

  test(`vector ${v.name}: encodes to its bytes`, (t) => {
    t.is(encodeFrame(toWire(v.value)).toString('hex'), v.hex);
  });

  if (kindOf(v.value) === 'request') {
    test(`vector ${v.name}: is a valid request`, (t) => {
      const r = parseRequest(decode(Buffer.from(v.hex, 'hex').subarray(4)));
      t.true(r.ok, r.ok ? '' : r.error.message);
      t.is(r.ok ? (r.op as string) : null, (v.value as { op: string }).op);
    });
  }
}

function kindOf(value: unknown): string {
  const o = value as Record<string, unknown>;
  if ('op' in o) return 'request';
  if ('ev' in o) return 'event';
  return 'error' in o ? 'error-reply' : 'reply';
}
