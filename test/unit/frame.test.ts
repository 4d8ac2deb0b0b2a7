import test from 'ava';
import { randomBytes } from 'node:crypto';
import { FrameDecoder, frame } from '../../protocol/frame.js';

function collect(decoder: FrameDecoder, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) decoder.push(c, (p) => out.push(Buffer.from(p)));
  return out;
}

const payloads = [Buffer.alloc(0), Buffer.from('a'), randomBytes(300), randomBytes(7), Buffer.from([0, 0, 0, 0])];
const stream = Buffer.concat(payloads.map((p) => frame(p)));

test('whole stream in one chunk yields every payload', (t) => {
  t.deepEqual(collect(new FrameDecoder(1024), [stream]), payloads);
});

test('byte by byte yields every payload', (t) => {
  const chunks = [...stream].map((b) => Buffer.from([b]));
  t.deepEqual(collect(new FrameDecoder(1024), chunks), payloads);
});

test('split at every offset into two and three chunks', (t) => {
  for (let i = 0; i <= stream.length; i++) {
    t.deepEqual(collect(new FrameDecoder(1024), [stream.subarray(0, i), stream.subarray(i)]), payloads, `split ${i}`);
    const j = Math.min(stream.length, i + 5);
    t.deepEqual(
      collect(new FrameDecoder(1024), [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]),
      payloads,
      `split ${i}/${j}`,
    );
  }
});

test('a whole frame inside a chunk is not copied', (t) => {
  const chunk = frame(Buffer.from('hello'));
  let seen: Buffer | null = null;
  new FrameDecoder(1024).push(chunk, (p) => (seen = p));
  t.truthy(seen);
  t.is(seen!.buffer, chunk.buffer);
});

test('a declared length over the cap is a fault before the body arrives', (t) => {
  const d = new FrameDecoder(16);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(17);
  const fault = d.push(header, () => t.fail('no frame expected'));
  t.deepEqual(fault, { kind: 'too_large', length: 17, max: 16 });
  t.is(d.buffered, 0);
  t.deepEqual(d.push(frame(Buffer.from('x')), () => t.fail('decoder stays stopped')), fault);
});

test('oversize header split across chunks is caught too', (t) => {
  const d = new FrameDecoder(16);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(0xffffffff);
  t.is(d.push(header.subarray(0, 2), () => {}), null);
  t.is(d.push(header.subarray(2), () => {})?.kind, 'too_large');
});

test('payload at exactly the cap passes', (t) => {
  const p = randomBytes(64);
  t.deepEqual(collect(new FrameDecoder(64), [frame(p)]), [p]);
});
