/**
 * The accepting side of peer links. A pod connects here to send requests;
 * this side answers them and may push back on the same connection, which is
 * how deliveries reach a subscriber pod without it opening a second port.
 * Nothing but an authenticated pod gets past the handshake.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { encodeFrame } from '../../protocol/codec.js';
import { ErrorCode, TertuliaError, type WireError } from '../../protocol/errors.js';
import { clusterSecret, ServerHandshake, validPodId } from './auth.js';
import { PeerConnection } from './connection.js';
import { readHandshake } from './handshake.js';
import { LINK_BUSY_RETRY_MS, peerLimits, type PeerIdentity, type PeerLimits } from './wire.js';

/** What the server hands authenticated traffic to. */
export interface PeerHandler {
  /** Answers one request; a TertuliaError reaches the caller with its code, anything else as INTERNAL. */
  request(from: PeerIdentity, op: string, args: Record<string, unknown>): Promise<unknown>;
  push(from: PeerIdentity, ev: string, payload: Record<string, unknown>): void;
  /** A pod authenticated; pushes to it can flow from now on. */
  connected?(from: PeerIdentity): void;
  /** That pod's connection is gone (or replaced by a newer one, reported as connected right after). */
  disconnected?(from: PeerIdentity): void;
}

export interface PeerServerOptions {
  host: string;
  /** 0 picks a free port; read `address` after listen. */
  port: number;
  /** This pod's id, proven to connecting pods. */
  pod: string;
  secret: string | Buffer;
  handler: PeerHandler;
  log: Logger;
  limits?: Partial<PeerLimits>;
  /** A connection that has not authenticated by then is closed. Default 3000. */
  authTimeoutMs?: number;
  /** Connections allowed to be in the handshake at once; more are closed on accept. Default 256. */
  maxHandshakes?: number;
}

export class PeerServer {
  private readonly limits: PeerLimits;
  private readonly secret: Buffer;
  // Authenticated connections, one per pod: a pod that reconnects replaces its old one.
  private readonly conns = new Map<string, PeerConnection>();
  private readonly unauthenticated = new Set<Socket>();
  private droppedPushes = 0;
  private closing = false;

  private constructor(
    private readonly server: Server,
    private readonly opts: PeerServerOptions,
  ) {
    this.limits = peerLimits(opts.limits);
    this.secret = clusterSecret(opts.secret);
    if (!validPodId(opts.pod)) throw new RangeError(`invalid pod id "${opts.pod}"`);
  }

  /** Starts listening; resolves once bound. */
  static listen(opts: PeerServerOptions): Promise<PeerServer> {
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    const peer = new PeerServer(server, opts);
    server.on('connection', (socket) => peer.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => opts.log.error({ err }, 'peer listener error'));
        resolve(peer);
      });
    });
  }

  /** Where the listener is bound (the real port when 0 was asked for). */
  get address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Pushes dropped because the pod was not connected or not reading. */
  get dropped(): number {
    return this.droppedPushes;
  }

  /** Outbound bytes queued for a pod and not yet taken by the kernel; 0 when not connected. */
  backlog(pod: string): number {
    return this.conns.get(pod)?.backlog ?? 0;
  }

  /** Pods with an authenticated connection now. */
  connected(): PeerIdentity[] {
    return [...this.conns.values()].map((c) => c.peer);
  }

  /**
   * Sends `{ev, ...payload}` to a connected pod. Returns false, counting a
   * drop, when the pod is not connected or its outbound bytes are past the
   * high-water mark: pushes are at-most-once and receivers resume by seq.
   */
  push(pod: string, ev: string, payload: Record<string, unknown> = {}): boolean {
    const conn = this.conns.get(pod);
    if (!conn || conn.closed || conn.congested) {
      this.droppedPushes++;
      return false;
    }
    conn.send({ ...payload, ev });
    return true;
  }

  /** Stops listening and closes every connection; resolves when all are gone. */
  async close(): Promise<void> {
    this.closing = true;
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.unauthenticated) s.destroy();
    await Promise.all([...this.conns.values()].map((c) => c.destroy()));
    await listenerClosed;
  }

  private accept(socket: Socket): void {
    const log = this.opts.log;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', (err) => log.debug({ remote, err: err.message }, 'peer socket error'));
    if (this.closing || this.unauthenticated.size >= (this.opts.maxHandshakes ?? 256)) {
      log.info({ remote }, 'peer connection refused: too many handshakes');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.unauthenticated.add(socket);
    const hs = new ServerHandshake(this.secret, this.opts.pod);
    let from: PeerIdentity | null = null;
    readHandshake(
      socket,
      { maxFrameBytes: this.limits.handshakeFrameBytes, timeoutMs: this.opts.authTimeoutMs ?? 3000 },
      (message) => {
        const ok = hs.verify(message);
        from = ok.from;
        socket.write(encodeFrame(ok.reply));
        return true;
      },
    ).then(
      (rest) => {
        this.unauthenticated.delete(socket);
        if (this.closing) socket.destroy();
        else this.admit(socket, from!, rest);
      },
      (err: Error) => {
        this.unauthenticated.delete(socket);
        log.info({ remote, reason: err.message }, 'peer connection refused');
        socket.destroy();
      },
    );
    socket.write(encodeFrame(hs.challenge));
    socket.resume();
  }

  private admit(socket: Socket, from: PeerIdentity, rest: Buffer): void {
    const { handler, log: parent } = this.opts;
    const log = parent.child({ peer: from.pod, incarnation: from.incarnation });
    let pending = 0;
    const conn: PeerConnection = new PeerConnection(from, socket, this.limits, log, {
      message: (m) => {
        if (m.kind === 'push') return handler.push(from, m.ev, m.payload);
        if (m.kind !== 'request') return;
        if (conn.congested || pending >= this.limits.maxInFlight) {
          return reply(conn, m.id, undefined, busy(conn.congested ? 'peer is not reading replies' : `${pending} requests in flight`));
        }
        pending++;
        let answer: Promise<unknown>;
        try {
          answer = handler.request(from, m.op, m.args);
        } catch (err) {
          answer = Promise.reject(err);
        }
        answer.then(
          (result) => {
            pending--;
            reply(conn, m.id, result, undefined, log);
          },
          (err: unknown) => {
            pending--;
            reply(conn, m.id, undefined, wireError(err, m.op, log), log);
          },
        );
      },
      closed: () => {
        log.info('peer disconnected');
        if (this.conns.get(from.pod) !== conn) return;
        this.conns.delete(from.pod);
        this.notify(() => handler.disconnected?.(from));
      },
    });
    const old = this.conns.get(from.pod);
    this.conns.set(from.pod, conn);
    if (old) {
      log.info({ previous: old.peer.incarnation }, 'peer reconnected; replacing its old connection');
      void old.destroy();
      this.notify(() => handler.disconnected?.(old.peer));
    }
    log.info('peer authenticated');
    this.notify(() => handler.connected?.(from));
    conn.start(rest);
  }

  private notify(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.opts.log.error({ err }, 'peer handler threw');
    }
  }
}

function busy(message: string): WireError {
  return { code: ErrorCode.BUSY, message, retryMs: LINK_BUSY_RETRY_MS };
}

function wireError(err: unknown, op: string, log: Logger): WireError {
  if (err instanceof TertuliaError) return err.toWire();
  log.error({ err, op }, 'peer request failed');
  return { code: ErrorCode.INTERNAL, message: 'internal error' };
}

function reply(conn: PeerConnection, id: number, result: unknown, error?: WireError, log?: Logger): void {
  if (conn.closed) return;
  try {
    conn.send(error ? { id, error } : { id, result: result ?? null });
  } catch (err) {
    // The handler returned something the wire cannot carry; the caller still gets an answer.
    log?.error({ err, id }, 'peer reply not sendable');
    conn.send({ id, error: { code: ErrorCode.INTERNAL, message: 'reply not sendable' } });
  }
}
