/** A bare TCP client that writes arbitrary bytes and reads decoded frames. */
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../protocol/frame.js';
import { decode, encodeFrame } from '../../protocol/codec.js';

export interface RawClient {
  socket: Socket;
  frames: Record<string, unknown>[];
  closed: Promise<void>;
  isClosed(): boolean;
  send(value: unknown): void;
  /** Sends a request and resolves with the reply carrying its id. */
  request(op: string, fields?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Resolves with the first frame matching `pred` (already received or future). */
  next(pred: (f: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  close(): void;
}

let ids = 1;

export async function rawClient(port: number): Promise<RawClient> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => {
    socket.once('connect', res);
    socket.once('error', rej);
  });
  socket.on('error', () => {});
  const frames: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  let closedFlag = false;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk, (p) => frames.push(decode(p) as Record<string, unknown>));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<void>((res) =>
    socket.once('close', () => {
      closedFlag = true;
      for (const w of waiters.splice(0)) w();
      res();
    }),
  );
  const next = (pred: (f: Record<string, unknown>) => boolean, ms = 5000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching frame')), ms);
      const check = () => {
        const f = frames.find(pred);
        if (f) {
          clearTimeout(timer);
          resolve(f);
        } else if (closedFlag) {
          clearTimeout(timer);
          reject(new Error('connection closed before a matching frame'));
        } else waiters.push(check);
      };
      check();
    });
  const send = (value: unknown) => socket.write(encodeFrame(value));
  return {
    socket,
    frames,
    closed,
    isClosed: () => closedFlag,
    send,
    request(op, fields = {}) {
      const id = ids++;
      send({ op, id, ...fields });
      return next((f) => f.id === id);
    },
    next,
    close: () => socket.destroy(),
  };
}
