/**
 * Keeps a healthy connection alive and notices a dead one. The server closes a
 * connection that sent nothing for `idleTimeoutMs`, and a server that vanished
 * without a FIN (power loss, partition) leaves a socket that looks open
 * forever; a ping answered in time settles both.
 */
import { ErrorCode, TertuliaError } from '../errors.js';
import { ConnectionLostError, type Connection } from './connection.js';

/** Pings over one connection while it is quiet; calls `dead` when a pong does not come. */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private pinging = false;

  /**
   * `heartbeatMs` is the server's limit: something must be sent at least that
   * often. A ping unanswered for `pongTimeoutMs` with nothing else received
   * meanwhile declares the server dead.
   */
  constructor(
    private readonly conn: Connection,
    private readonly heartbeatMs: number,
    private readonly pongTimeoutMs: number,
    private readonly dead: (reason: TertuliaError) => void,
  ) {}

  /** Starts the periodic check. */
  start(): void {
    if (this.timer) return;
    // Checking at half the period keeps the worst-case gap between sends under heartbeatMs.
    const every = Math.max(10, Math.floor(this.heartbeatMs / 2));
    this.timer = setInterval(() => this.tick(every), every);
    // The socket keeps the process alive while open; the timer need not.
    this.timer.unref();
  }

  /** Stops the check; an in-flight ping is left to its own timeout. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(quietMs: number): void {
    if (this.pinging || !this.conn.open) return;
    const now = Date.now();
    // Quiet in either direction: unsent traffic starves the server's idle timer,
    // unreceived traffic is the only sign that the server may be gone.
    if (now - this.conn.lastSentAt < quietMs && now - this.conn.lastReceivedAt < quietMs) return;
    this.pinging = true;
    const sentAt = Date.now();
    this.conn.request('ping', {}, this.pongTimeoutMs).then(
      () => {
        this.pinging = false;
      },
      (err: unknown) => {
        this.pinging = false;
        if (err instanceof ConnectionLostError || !(err instanceof TertuliaError)) return;
        // A full pending map also refuses the ping; replies to the rest will show liveness.
        if (err.code !== ErrorCode.TIMEOUT || this.conn.lastReceivedAt > sentAt) return;
        this.stop();
        this.dead(new TertuliaError(ErrorCode.TIMEOUT, `no pong within ${this.pongTimeoutMs} ms`, { cause: err }));
      },
    );
  }
}
