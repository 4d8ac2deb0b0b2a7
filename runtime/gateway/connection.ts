import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameDecoder } from '../../protocol/frame.js';
import { decode, encodeFrame } from '../../protocol/codec.js';
import { parseRequest } from '../../protocol/validate.js';
import { ErrorCode, TertuliaError, type WireError } from '../../protocol/errors.js';
import type { Op, Requests } from '../../protocol/messages.js';
import type { Outlet } from '../ports.js';
import { Outbound } from './outbound.js';

export interface ConnectionLimits {
  maxFrameBytes: number;
  maxOutboundBytes: number;
  maxPending: number;
  /** How long an ephemeral event (presence, typing) may wait so that several share one write. */
  ephemeralFlushMs: number;
}

/** What a connection hands its requests to; one per connection. */
export interface RequestHandler {
  handle(op: Op, args: Requests[Op]): Promise<unknown>;
  /** Called once when the connection is gone, for whatever reason. */
  closed(): void;
}

export type CloseReason = 'client' | 'error' | 'protocol' | 'slow_consumer' | 'idle' | 'shutdown';

/**
 * One client connection: decodes frames, validates requests, caps requests in
 * flight, batches writes, and never lets a client's bad input escape as an
 * exception.
 */
export class Connection implements Outlet {
  lastActivity = Date.now();
  private readonly decoder: FrameDecoder;
  private readonly outbound: Outbound;
  private pending = 0;
  private handler: RequestHandler | null = null;
  private closing = false;
  private reason: CloseReason = 'client';
  /**
   * This connection's share of the pacer's gap: within a quarter of it, so
   * that connections fed by the same commit do not all flush in the same
   * turn of the loop a gap later, and again a gap after that.
   */
  private readonly gapShare = 0.75 + Math.random() / 2;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly limits: ConnectionLimits,
    private readonly pacer: { readonly gapMs: number },
    private readonly log: Logger,
    private readonly onGone: (conn: Connection, reason: CloseReason) => void,
  ) {
    this.decoder = new FrameDecoder(limits.maxFrameBytes);
    this.outbound = new Outbound(socket, limits.maxOutboundBytes, () => this.slowConsumer());
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.log.debug({ err: err.message }, 'socket error');
      this.reason = this.closing ? this.reason : 'error';
    });
    socket.on('close', () => this.onClose());
  }

  /** Installs the per-connection handler (the session). */
  attach(handler: RequestHandler): void {
    this.handler = handler;
  }

  get closed(): boolean {
    return this.closing || this.socket.destroyed;
  }

  get backlog(): number {
    return this.outbound.backlog;
  }

  /** A delivery: spaced from the last write by this connection's share of the pacer's gap. */
  write(frame: Buffer): void {
    if (!this.closing) this.outbound.writeSpaced(frame, this.pacer.gapMs * this.gapShare);
  }

  /** A reply to this connection's request: at the end of this turn. */
  private reply(frame: Buffer): void {
    if (!this.closing) this.outbound.write(frame);
  }

  writeEphemeral(frame: Buffer): void {
    if (!this.closing) this.outbound.write(frame, this.limits.ephemeralFlushMs);
  }

  /** Sends an `error` event and closes the connection after it is flushed. */
  fatal(code: number, message: string, reason: CloseReason): void {
    if (this.closing) return;
    this.outbound.write(encodeFrame({ ev: 'error', error: { code, message } }));
    this.outbound.flush();
    this.closing = true;
    this.reason = reason;
    this.socket.end();
    // A peer that never reads would keep a half-closed socket alive.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Drops the connection at once (a drain that ran out of time). */
  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.lastActivity = Date.now();
    const fault = this.decoder.push(chunk, this.onFrame);
    if (fault) {
      this.fatal(
        ErrorCode.FRAME_TOO_LARGE,
        `frame of ${fault.length} bytes exceeds the limit of ${fault.max}`,
        'protocol',
      );
    }
  }

  private readonly onFrame = (payload: Buffer): void => {
    if (this.closing) return;
    let value: unknown;
    try {
      value = decode(payload);
    } catch (err) {
      this.fatal(ErrorCode.BAD_FRAME, `undecodable MessagePack: ${(err as Error).message}`, 'protocol');
      return;
    }
    const req = parseRequest(value);
    if (!req.ok) {
      this.sendError(req.id, req.error.toWire());
      return;
    }
    if (this.pending >= this.limits.maxPending) {
      this.sendError(req.id, {
        code: ErrorCode.TOO_MANY_PENDING,
        message: `more than ${this.limits.maxPending} requests awaiting replies`,
      });
      return;
    }
    if (!this.handler) return;
    this.pending++;
    this.handler.handle(req.op, req.args).then(
      (result) => {
        this.pending--;
        this.reply(encodeFrame({ id: req.id, result: result ?? {} }));
      },
      (err: unknown) => {
        this.pending--;
        this.sendError(req.id, this.toWire(err, req.op));
      },
    );
  };

  private toWire(err: unknown, op: string): WireError {
    if (err instanceof TertuliaError) return err.toWire();
    this.log.error({ err, op }, 'request failed');
    return { code: ErrorCode.INTERNAL, message: 'internal error' };
  }

  private sendError(id: number | null, error: WireError): void {
    this.reply(encodeFrame(id === null ? { ev: 'error', error } : { id, error }));
  }

  private slowConsumer(): void {
    this.log.info({ backlog: this.outbound.backlog }, 'slow consumer disconnected');
    this.closing = true;
    this.reason = 'slow_consumer';
    // Queued past the cap on purpose: a peer that reads again learns why it was
    // dropped; one that never does is destroyed shortly.
    const error = { code: ErrorCode.SLOW_CONSUMER, message: 'outbound buffer limit reached; resume from history' };
    this.socket.write(encodeFrame({ ev: 'error', error }));
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onClose(): void {
    this.closing = true;
    this.handler?.closed();
    this.onGone(this, this.reason);
  }
}
