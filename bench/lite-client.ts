/**
 * The load generator's own protocol client: just enough of the protocol to
 * connect, authenticate, subscribe, send and count deliveries, decoding
 * server frames with msgpackr directly. The client library checks every byte
 * of untrusted input and orders each channel's messages; at 100,000
 * deliveries a second on a 2-core machine that costs the server under test
 * the CPU it needs. `--client full` measures with the library instead.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Unpackr } from 'msgpackr';
import { encodeFrame } from '../protocol/codec.js';
import { ErrorCode, TertuliaError, type WireError } from '../protocol/errors.js';
import { FrameDecoder } from '../protocol/frame.js';
import type { MessageView } from '../protocol/messages.js';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' });

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class LiteClient extends EventEmitter {
  state: 'idle' | 'connected' | 'closed' = 'idle';
  user: { user: number; name: string } | undefined;
  /** The last connect's steps: until the socket connected, then until the hello reply (ms). */
  readonly steps = { tcpMs: NaN, helloMs: NaN };
  private socket: Socket | null = null;
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private corked = false;

  constructor(private readonly opts: { host: string; port: number; token?: string; requestTimeoutMs: number }) {
    super();
  }

  async connect(): Promise<void> {
    const t0 = performance.now();
    const socket = connect({ host: this.opts.host, port: this.opts.port, noDelay: true });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const t1 = performance.now();
    this.steps.tcpMs = t1 - t0;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk, this.onFrame));
    socket.on('close', () => {
      const was = this.state;
      this.state = 'closed';
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new TertuliaError(ErrorCode.TIMEOUT, 'connection lost'));
      }
      this.pending.clear();
      if (was === 'connected') this.emit('disconnect', {});
    });
    this.state = 'connected';
    // As the client library does: auth right behind hello, one round trip.
    const hello = this.request('hello', { version: 1, client: 'bench' });
    const auth = this.opts.token ? this.request('auth', { token: this.opts.token }) : null;
    auth?.catch(() => {});
    await hello;
    this.steps.helloMs = performance.now() - t1;
    if (auth) {
      const r = (await auth) as { user: number; name: string };
      this.user = { user: r.user, name: r.name };
    }
  }

  /** Subscribes from now on; the replay is not needed by the load generator. */
  async subscribe(channel: number): Promise<number> {
    return ((await this.request('subscribe', { channel })) as { lastSeq: number }).lastSeq;
  }

  request(op: string, args: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const socket = this.socket;
    if (!socket || this.state !== 'connected') return Promise.reject(new TertuliaError(ErrorCode.TIMEOUT, 'not connected'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TertuliaError(ErrorCode.TIMEOUT, `${op} timed out`));
      }, opts.timeoutMs ?? this.opts.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      // As the library does: requests made in one microtask leave in one write.
      if (!this.corked) {
        this.corked = true;
        socket.cork();
        queueMicrotask(() => {
          this.corked = false;
          socket.uncork();
        });
      }
      socket.write(encodeFrame({ op, id, ...args }));
    });
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.socket?.destroy();
  }

  private readonly onFrame = (payload: Buffer): void => {
    const m = unpackr.unpack(payload) as Record<string, unknown>;
    if (typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error) p.reject(TertuliaError.fromWire(m.error as WireError));
      else p.resolve(m.result);
    } else if (m.ev === 'msg') {
      this.emit('message', m as unknown as MessageView);
    } else if (m.ev === 'error') {
      this.emit('error', TertuliaError.fromWire((m.error ?? {}) as WireError));
    }
  };
}
