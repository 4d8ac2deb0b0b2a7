/**
 * One authenticated peer connection, the same on both sides: frames in,
 * classified messages out, batched and capped writes. Who may send what
 * (requests only towards the accepting pod) is the owner's business.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { decode, encodeFrame } from '../../protocol/codec.js';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { FRAME_HEADER_BYTES, FrameDecoder } from '../../protocol/frame.js';
import { PeerOutbound } from './outbound.js';
import { parsePeerMessage, type PeerIdentity, type PeerLimits, type PeerMessage } from './wire.js';

export interface PeerConnectionEvents {
  message(message: PeerMessage): void;
  /** Once, after the socket has closed for whatever reason. */
  closed(cause: Error | undefined): void;
}

/**
 * Encodes one peer message as a frame. Throws TertuliaError INVALID_FIELD for a
 * value outside plain MessagePack, FRAME_TOO_LARGE past the cap (the receiving
 * pod, configured alike, would hang up on it).
 */
export function encodePeerFrame(value: Record<string, unknown>, maxFrameBytes: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = encodeFrame(value);
  } catch (err) {
    throw new TertuliaError(ErrorCode.INVALID_FIELD, 'peer message is not plain MessagePack', { cause: err });
  }
  if (bytes.length - FRAME_HEADER_BYTES > maxFrameBytes) {
    throw new TertuliaError(ErrorCode.FRAME_TOO_LARGE, `peer message exceeds ${maxFrameBytes} bytes`);
  }
  return bytes;
}

// A peer that stops reading would keep a half-closed socket open for good.
const CLOSE_GRACE_MS = 1000;

export class PeerConnection {
  private readonly decoder: FrameDecoder;
  private readonly outbound: PeerOutbound;
  private closing = false;
  private finished = false;
  private cause: Error | undefined;
  private resolveDone!: () => void;
  /** Resolves once the socket is closed and `closed` was reported. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(
    /** The pod at the other end, as authenticated. */
    readonly peer: PeerIdentity,
    private readonly socket: Socket,
    private readonly limits: PeerLimits,
    private readonly log: Logger,
    private readonly events: PeerConnectionEvents,
  ) {
    this.decoder = new FrameDecoder(limits.maxFrameBytes);
    this.outbound = new PeerOutbound(socket, limits.highWaterBytes);
  }

  /**
   * Starts reading: first `rest` (bytes that arrived behind the handshake),
   * then the paused socket. Separate from the constructor so the owner has
   * stored this connection before its first message is dispatched.
   */
  start(rest: Buffer): void {
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => (this.cause ??= err));
    this.socket.on('close', () => this.finish());
    if (this.socket.destroyed) {
      // 'close' may already have fired while the socket sat paused between handshake and here.
      if (this.socket.closed) this.finish();
      return;
    }
    if (rest.length > 0) this.onData(rest);
    this.socket.resume();
  }

  get closed(): boolean {
    return this.closing || this.socket.destroyed;
  }

  /** True while outbound bytes exceed the high-water mark. */
  get congested(): boolean {
    return this.outbound.congested;
  }

  get backlog(): number {
    return this.outbound.backlog;
  }

  /** Queues one message; throws as encodePeerFrame does. */
  send(value: Record<string, unknown>): void {
    this.write(encodePeerFrame(value, this.limits.maxFrameBytes));
  }

  /** Queues one frame made by encodePeerFrame; dropped once the connection is closing. */
  write(frame: Buffer): void {
    if (!this.closed) this.outbound.write(frame);
  }

  /** Flushes what is queued, ends the socket, and resolves once it is closed. */
  close(cause?: Error): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.cause ??= cause;
      this.outbound.flush();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
    return this.done;
  }

  /** Drops the socket at once, discarding anything unsent. */
  destroy(cause?: Error): Promise<void> {
    this.closing = true;
    this.cause ??= cause;
    this.socket.destroy();
    return this.done;
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    const fault = this.decoder.push(chunk, this.onFrame);
    if (fault) {
      this.log.warn({ peer: this.peer.pod, length: fault.length }, 'peer frame too large; closing');
      void this.destroy(new TertuliaError(ErrorCode.FRAME_TOO_LARGE, `peer frame of ${fault.length} bytes`));
    }
  }

  private readonly onFrame = (payload: Buffer): void => {
    if (this.closing) return;
    let value: unknown;
    try {
      value = decode(payload);
    } catch (err) {
      // An authenticated pod sending garbage is a bug or version skew: make it loud and start over.
      this.log.warn({ peer: this.peer.pod, err: (err as Error).message }, 'undecodable peer frame; closing');
      void this.destroy(new TertuliaError(ErrorCode.BAD_FRAME, 'undecodable peer frame', { cause: err }));
      return;
    }
    const message = parsePeerMessage(value);
    if (!message) {
      // Ignored rather than fatal, so a newer pod may add shapes during a rolling upgrade.
      this.log.debug({ peer: this.peer.pod }, 'unknown peer message ignored');
      return;
    }
    try {
      this.events.message(message);
    } catch (err) {
      this.log.error({ err, peer: this.peer.pod }, 'peer message handler threw');
    }
  };

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.closing = true;
    try {
      this.events.closed(this.cause);
    } finally {
      this.resolveDone();
    }
  }
}
