import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/errors.js';
import { encodeFrame } from '../../protocol/codec.js';
import { Connection, type CloseReason, type ConnectionLimits, type RequestHandler } from './connection.js';
import { DeliveryPacer } from './delivery-pacer.js';

export interface GatewayOptions extends ConnectionLimits {
  host: string;
  port: number;
  maxConnections: number;
  idleTimeoutMs: number;
  /**
   * Most time kept between writes that carry deliveries when the pod is busy
   * (see DeliveryPacer): a delivery due sooner after the last write waits, and
   * those that arrive meanwhile share its write. Replies never wait, and take
   * what waits with them. 0: none ever wait.
   */
  deliveryGapMs: number;
  /** Told of every close, for metrics. */
  onClose?: (reason: CloseReason) => void;
}

/**
 * The client-facing TCP listener: accepts connections up to a cap, gives each
 * a session, sweeps idle ones, and drains on stop.
 */
export class Gateway {
  private readonly server: Server;
  private readonly conns = new Map<number, Connection>();
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;
  private stopping = false;
  private closed: Promise<void> | null = null;
  private readonly pacer: DeliveryPacer;

  constructor(
    private readonly opts: GatewayOptions,
    private readonly log: Logger,
    private readonly sessionFor: (conn: Connection) => RequestHandler,
  ) {
    this.server = createServer({ noDelay: true }, (s) => this.accept(s));
    this.pacer = new DeliveryPacer(opts.deliveryGapMs);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** The gap the pacer keeps now between a connection's delivery writes. */
  get deliveryGapMs(): number {
    return this.pacer.gapMs;
  }

  /** Listens and resolves with the bound address. */
  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const period = Math.max(50, Math.min(1000, Math.floor(this.opts.idleTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweepIdle(), period);
    this.sweeper.unref();
    this.pacer.start();
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected listen address');
    return { host: addr.address, port: addr.port };
  }

  /** Stops accepting, tells every client to reconnect, waits up to `graceMs` for them to go. */
  /** Refuses new connections from now on; the ones open keep being served. */
  stopAccepting(): void {
    if (this.closed) return;
    this.closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Tells every client to move (to `servers`, the other pods' client
   * addresses, when known) and closes; waits up to `graceMs` for them to go.
   */
  async stop(graceMs = 2000, servers: string[] = []): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopAccepting();
    if (this.sweeper) clearInterval(this.sweeper);
    this.pacer.stop();
    const move = servers.length > 0 ? encodeFrame({ ev: 'move', servers }) : null;
    for (const c of this.conns.values()) {
      if (move) c.write(move);
      c.fatal(ErrorCode.SHUTTING_DOWN, 'server is shutting down', 'shutdown');
    }
    const deadline = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.conns.values()) c.destroy();
    await this.closed;
  }

  private accept(socket: Socket): void {
    const id = this.nextId++;
    const conn = new Connection(id, socket, this.opts, this.pacer, this.log.child({ conn: id }), (c, reason) =>
      this.gone(c, reason),
    );
    if (this.stopping) {
      conn.fatal(ErrorCode.SHUTTING_DOWN, 'server is shutting down', 'shutdown');
      return;
    }
    if (this.conns.size >= this.opts.maxConnections) {
      conn.fatal(ErrorCode.TOO_MANY_CONNECTIONS, 'connection limit reached', 'shutdown');
      return;
    }
    this.conns.set(id, conn);
    conn.attach(this.sessionFor(conn));
  }

  private gone(conn: Connection, reason: CloseReason): void {
    this.conns.delete(conn.id);
    this.opts.onClose?.(reason);
    this.log.debug({ conn: conn.id, reason }, 'connection closed');
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.opts.idleTimeoutMs;
    for (const c of this.conns.values()) {
      if (c.lastActivity < cutoff && !c.closed) {
        c.fatal(ErrorCode.IDLE_TIMEOUT, `nothing received for ${this.opts.idleTimeoutMs} ms`, 'idle');
      }
    }
  }
}
