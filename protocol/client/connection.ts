/**
 * One TCP connection to a server: framing, the request/reply map with
 * per-request timeouts and a cap on requests awaiting replies. It knows nothing
 * about sessions or reconnects; when the socket ends it rejects what is pending
 * and reports the close once.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { decode, encodeFrame } from '../codec.js';
import { ErrorCode, TertuliaError, type WireError } from '../errors.js';
import { FRAME_HEADER_BYTES, FrameDecoder } from '../frame.js';

/**
 * Rejection of a request whose reply can no longer arrive because the
 * connection closed. Its code is TIMEOUT: like a timeout, the outcome is
 * unknown (the server may have applied it) and the request may be retried.
 */
export class ConnectionLostError extends TertuliaError {
  constructor(cause?: unknown, message = 'connection lost before the reply') {
    super(ErrorCode.TIMEOUT, message, cause === undefined ? undefined : { cause });
    this.name = 'ConnectionLostError';
  }
}

/** What a connection reports to its owner. */
export interface ConnectionHandlers {
  /** A server push (`{ev, ...}`). */
  push(message: Record<string, unknown>): void;
  /** The socket is gone; called exactly once, after pending requests were rejected. */
  close(error: Error | undefined): void;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  /** Largest frame accepted from the server. */
  maxIncomingFrameBytes: number;
  /** Requests awaiting replies beyond which new ones are refused at once. */
  maxPending: number;
  connectTimeoutMs: number;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const MAX_ID = 0xffffffff;

/** A framed request/reply connection over one socket. */
export class Connection {
  /** Frames larger than this are refused locally instead of getting us disconnected. */
  maxOutgoingFrameBytes = Number.MAX_SAFE_INTEGER;
  maxPending: number;
  /** Time of the last byte received / frame written, for the heartbeat. */
  lastReceivedAt = Date.now();
  lastSentAt = Date.now();

  private readonly pending = new Map<number, Pending>();
  private readonly decoder: FrameDecoder;
  private nextId = 1;
  private corked = false;
  private closed = false;
  private readonly socketClosed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.maxPending = opts.maxPending;
    this.decoder = new FrameDecoder(opts.maxIncomingFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(err));
    this.socketClosed = new Promise((resolve) =>
      socket.on('close', () => {
        this.shutdown(undefined);
        resolve();
      }),
    );
  }

  /** Opens a TCP connection with Nagle off (replies are small and latency matters). */
  static open(opts: ConnectionOptions, handlers: ConnectionHandlers): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: opts.host, port: opts.port, noDelay: true });
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ConnectionLostError(err));
      };
      const timer = setTimeout(
        () => fail(new TertuliaError(ErrorCode.TIMEOUT, `connect timed out after ${opts.connectTimeoutMs} ms`)),
        opts.connectTimeoutMs,
      );
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.setNoDelay(true);
        resolve(new Connection(socket, opts, handlers));
      });
    });
  }

  /** Requests awaiting replies. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** False once the socket has closed or close() was called. */
  get open(): boolean {
    return !this.closed;
  }

  /**
   * Sends `{op, id, ...args}` and resolves with the reply's `result`; rejects
   * with the server's error, TIMEOUT after `timeoutMs`, TOO_MANY_PENDING over
   * the cap, FRAME_TOO_LARGE for an oversized request, ConnectionLostError on close.
   */
  request(op: string, args: object, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectionLostError());
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(
        new TertuliaError(ErrorCode.TOO_MANY_PENDING, `${this.pending.size} requests already await replies`),
      );
    }
    const id = this.allocateId();
    let bytes: Buffer;
    try {
      bytes = encodeFrame({ ...args, op, id });
    } catch (err) {
      return Promise.reject(new TertuliaError(ErrorCode.INVALID_FIELD, `cannot encode ${op}`, { cause: err }));
    }
    if (bytes.length - FRAME_HEADER_BYTES > this.maxOutgoingFrameBytes) {
      return Promise.reject(
        new TertuliaError(ErrorCode.FRAME_TOO_LARGE, `${op} request exceeds ${this.maxOutgoingFrameBytes} bytes`),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TertuliaError(ErrorCode.TIMEOUT, `${op} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.write(bytes);
    });
  }

  /** Destroys the socket; pending requests reject with ConnectionLostError(cause). Resolves once the socket is closed. */
  close(cause?: Error): Promise<void> {
    this.shutdown(cause);
    return this.socketClosed;
  }

  private allocateId(): number {
    // Skipping ids still in use makes wrap-around harmless on long-lived connections.
    do {
      const id = this.nextId;
      this.nextId = id >= MAX_ID ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    } while (true);
  }

  private write(bytes: Buffer): void {
    // Cork until the end of the microtask so a burst of requests becomes one syscall.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      queueMicrotask(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
    this.lastSentAt = Date.now();
  }

  private onData(chunk: Buffer): void {
    this.lastReceivedAt = Date.now();
    const fault = this.decoder.push(chunk, (payload) => this.onFrame(payload));
    if (fault && !this.closed) {
      this.shutdown(
        new TertuliaError(ErrorCode.FRAME_TOO_LARGE, `server frame of ${fault.length} bytes exceeds ${fault.max}`),
      );
    }
  }

  private onFrame(payload: Buffer): void {
    if (this.closed) return;
    let message: unknown;
    try {
      message = decode(payload);
    } catch (err) {
      this.shutdown(new TertuliaError(ErrorCode.BAD_FRAME, 'undecodable frame from server', { cause: err }));
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return;
    const m = message as Record<string, unknown>;
    if (typeof m.id === 'number' && ('result' in m || 'error' in m)) this.settle(m.id, m);
    else if (typeof m.ev === 'string') this.handlers.push(m);
    // Anything else is ignored: a newer server may send shapes we do not know.
  }

  private settle(id: number, m: Record<string, unknown>): void {
    const p = this.pending.get(id);
    if (!p) return; // late reply to a request that already timed out
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (m.error !== undefined && m.error !== null) p.reject(toError(m.error));
    else p.resolve(m.result ?? {});
  }

  private shutdown(cause: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const lost = new ConnectionLostError(cause);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(lost);
    }
    this.pending.clear();
    this.handlers.close(cause);
  }
}

/** Builds a TertuliaError from a wire error, tolerating a malformed one. */
export function toError(raw: unknown): TertuliaError {
  const w = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<WireError>;
  const code = typeof w.code === 'number' ? w.code : ErrorCode.INTERNAL;
  const message = typeof w.message === 'string' ? w.message : 'error without message';
  return TertuliaError.fromWire(typeof w.retryMs === 'number' ? { code, message, retryMs: w.retryMs } : { code, message });
}
