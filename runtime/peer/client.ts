/**
 * The connecting side of a peer link: one pod's connection to one remote pod.
 * Requests go out multiplexed by id and replies come back on the same
 * connection, as do the remote pod's pushes. The link reconnects by itself
 * with full-jitter backoff until closed.
 *
 * Overload and failure, each answered at once rather than parked:
 *  - more than `maxInFlight` requests awaiting replies: BUSY (retryMs);
 *  - outbound bytes past `highWaterBytes` (the remote is not reading): BUSY,
 *    and pushes are dropped and counted in `dropped`;
 *  - link down, between reconnect attempts: BUSY with the wait until the next
 *    attempt (the request was never sent);
 *  - no reply within the timeout: TIMEOUT;
 *  - connection lost after sending: PeerLinkLostError (code TIMEOUT, outcome
 *    unknown, like the client library's ConnectionLostError);
 *  - close(): SHUTTING_DOWN.
 * Requests made while an attempt is under way wait for it (within their
 * timeout and the in-flight cap) and are sent once authenticated.
 */
import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { Backoff, sleep, type BackoffOptions } from '../../protocol/client/backoff.js';
import { toError } from '../../protocol/client/connection.js';
import { clusterSecret } from './auth.js';
import { encodePeerFrame, PeerConnection } from './connection.js';
import { dialPeer, type Dial } from './dial.js';
import { LINK_BUSY_RETRY_MS, nextId, parseAddress, peerLimits, type PeerIdentity, type PeerLimits } from './wire.js';

export interface PeerClientOptions {
  /** This pod, as it authenticates itself. */
  self: PeerIdentity;
  /** The pod expected at `address`; another pod answering there is refused. */
  remote: string;
  /** "host:port" (PodInfo.peer) or its parts. */
  address: string | { host: string; port: number };
  secret: string | Buffer;
  log: Logger;
  limits?: Partial<PeerLimits>;
  /** Budget for TCP connect plus handshake. Default 3000. */
  connectTimeoutMs?: number;
  /** Reconnect delays. Default 100 ms doubling up to 5 s, full jitter. */
  backoff?: BackoffOptions;
  /** Used when request() is given no timeout. Default 5000. */
  requestTimeoutMs?: number;
  /** A push from the remote pod. */
  onPush?(ev: string, payload: Record<string, unknown>): void;
  /** The link is (again) authenticated; state held by the remote for us (subscriptions) may be gone. */
  onUp?(): void;
  /** The link was up and is lost; requests in flight have been rejected. */
  onDown?(cause: Error | undefined): void;
}

export type PeerLinkState = 'connecting' | 'up' | 'down' | 'closed';

/** The connection closed after the request was sent: it may or may not have run. */
export class PeerLinkLostError extends TertuliaError {
  constructor(remote: string, cause?: unknown) {
    super(ErrorCode.TIMEOUT, `peer link to ${remote} lost before the reply`, cause === undefined ? undefined : { cause });
    this.name = 'PeerLinkLostError';
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** The encoded request while it waits for a connection; null once written. */
  frame: Buffer | null;
}

export class PeerClient {
  private readonly limits: PeerLimits;
  private readonly secret: Buffer;
  private readonly host: string;
  private readonly port: number;
  private readonly backoff: Backoff;
  private readonly stop = new AbortController();
  private readonly pending = new Map<number, Pending>();
  private readonly upWaiters = new Set<() => void>();
  private linkState: PeerLinkState = 'connecting';
  private conn: PeerConnection | null = null;
  private attempt: Dial | null = null;
  private lastId = 0;
  private unsentBytes = 0;
  private retryAt = 0;
  private droppedPushes = 0;
  private readonly running: Promise<void>;

  constructor(private readonly opts: PeerClientOptions) {
    this.limits = peerLimits(opts.limits);
    this.secret = clusterSecret(opts.secret);
    ({ host: this.host, port: this.port } = typeof opts.address === 'string' ? parseAddress(opts.address) : opts.address);
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 100, maxMs: 5000 });
    this.running = this.run();
  }

  get state(): PeerLinkState {
    return this.linkState;
  }

  get remote(): string {
    return this.opts.remote;
  }

  /** Requests awaiting replies (or a connection). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Pushes dropped because the link was down or congested. */
  get dropped(): number {
    return this.droppedPushes;
  }

  /** Outbound bytes not yet taken by the kernel, including requests waiting for a connection. */
  get backlog(): number {
    return (this.conn?.backlog ?? 0) + this.unsentBytes;
  }

  /** Resolves once the link is up; rejects after `timeoutMs` or on close. */
  ready(timeoutMs = this.opts.connectTimeoutMs ?? 3000): Promise<void> {
    if (this.linkState === 'up') return Promise.resolve();
    if (this.linkState === 'closed') return Promise.reject(closedError(this.opts.remote));
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.upWaiters.delete(done);
        if (this.linkState === 'up') resolve();
        else reject(closedError(this.opts.remote));
      };
      const timer = setTimeout(() => {
        this.upWaiters.delete(done);
        reject(new TertuliaError(ErrorCode.TIMEOUT, `peer link to ${this.opts.remote} not up within ${timeoutMs} ms`));
      }, timeoutMs);
      this.upWaiters.add(done);
    });
  }

  /** Sends `{op, id, ...args}` and resolves with the reply's result; see the file comment for refusals. */
  request(op: string, args: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<unknown> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    const id = this.allocateId();
    let frame: Buffer;
    try {
      frame = encodePeerFrame({ ...args, op, id }, this.limits.maxFrameBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(id);
        if (!p) return;
        this.forget(id, p);
        reject(new TertuliaError(ErrorCode.TIMEOUT, `peer ${this.opts.remote} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      // Between a connection closing and the reconnect loop noticing, the request
      // waits unsent and is refused with BUSY by the loop, never silently lost.
      const conn = this.linkState === 'up' && this.conn && !this.conn.closed ? this.conn : null;
      this.pending.set(id, { resolve, reject, timer, frame: conn ? null : frame });
      if (conn) conn.write(frame);
      else this.unsentBytes += frame.length;
    });
  }

  /** Sends `{ev, ...payload}`; false (and counted) when dropped because the link is down or congested. */
  push(ev: string, payload: Record<string, unknown> = {}): boolean {
    const conn = this.conn;
    if (this.linkState !== 'up' || !conn || conn.closed || conn.congested) {
      this.droppedPushes++;
      return false;
    }
    conn.send({ ...payload, ev });
    return true;
  }

  /** Stops reconnecting, rejects what is pending with SHUTTING_DOWN, closes the socket. */
  async close(): Promise<void> {
    if (this.linkState !== 'closed') {
      this.linkState = 'closed';
      this.stop.abort();
      this.attempt?.cancel();
      this.rejectAll(() => closedError(this.opts.remote));
      for (const w of [...this.upWaiters]) w();
      await this.conn?.close();
    }
    await this.running;
  }

  // A method, not a comparison, so TypeScript does not narrow the state across awaits.
  private isClosed(): boolean {
    return this.linkState === 'closed';
  }

  private refusal(): TertuliaError | null {
    const remote = this.opts.remote;
    if (this.linkState === 'closed') return closedError(remote);
    if (this.linkState === 'down') {
      const wait = Math.max(1, this.retryAt - Date.now());
      return new TertuliaError(ErrorCode.BUSY, `peer link to ${remote} is down`, { retryMs: wait });
    }
    if (this.pending.size >= this.limits.maxInFlight) {
      return busy(`${this.pending.size} requests to ${remote} in flight`);
    }
    if (this.backlog > this.limits.highWaterBytes) {
      return busy(`peer ${remote} is not reading (${this.backlog} bytes queued)`);
    }
    return null;
  }

  private allocateId(): number {
    // Skipping ids still in use makes wrap-around harmless on a long-lived link.
    let id = this.lastId;
    do id = nextId(id);
    while (this.pending.has(id));
    this.lastId = id;
    return id;
  }

  private forget(id: number, p: Pending): void {
    clearTimeout(p.timer);
    if (p.frame) this.unsentBytes -= p.frame.length;
    this.pending.delete(id);
  }

  private rejectAll(error: () => Error, which: (p: Pending) => boolean = () => true): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue;
      this.forget(id, p);
      p.reject(error());
    }
  }

  private async run(): Promise<void> {
    const log = this.opts.log;
    while (this.linkState !== 'closed') {
      this.linkState = 'connecting';
      let conn: PeerConnection | null = null;
      try {
        conn = await this.connectOnce();
      } catch (err) {
        // The first failure of a streak is news; the retries that follow are not.
        const level = this.backoff.attempts === 0 ? 'info' : 'debug';
        log[level]({ remote: this.opts.remote, err: (err as Error).message }, 'peer connect failed');
      }
      if (this.isClosed()) {
        await conn?.destroy();
        break;
      }
      if (conn && !conn.closed) {
        this.backoff.reset();
        await this.serve(conn);
        if (this.isClosed()) break;
      }
      const delay = this.backoff.next();
      this.retryAt = Date.now() + delay;
      this.linkState = 'down';
      // Never sent, so safe to retry elsewhere or later.
      this.rejectAll(
        () => new TertuliaError(ErrorCode.BUSY, `peer link to ${this.opts.remote} is down`, { retryMs: Math.max(1, delay) }),
      );
      await sleep(delay, this.stop.signal);
    }
  }

  /** Runs one authenticated connection until it closes. */
  private async serve(conn: PeerConnection): Promise<void> {
    this.conn = conn;
    this.linkState = 'up';
    for (const p of this.pending.values()) {
      if (!p.frame) continue;
      conn.write(p.frame);
      p.frame = null;
    }
    this.unsentBytes = 0;
    this.opts.log.info({ remote: this.opts.remote }, 'peer link up');
    for (const w of [...this.upWaiters]) w();
    try {
      this.opts.onUp?.();
    } catch (err) {
      this.opts.log.error({ err }, 'peer onUp threw');
    }
    await conn.done;
    this.conn = null;
  }

  private connectOnce(): Promise<PeerConnection> {
    const remote = this.opts.remote;
    const dial = dialPeer({
      host: this.host,
      port: this.port,
      secret: this.secret,
      self: this.opts.self,
      remote,
      limits: this.limits,
      timeoutMs: this.opts.connectTimeoutMs ?? 3000,
      log: this.opts.log.child({ remote }),
      events: {
        message: (m) => {
          if (m.kind === 'push') this.opts.onPush?.(m.ev, m.payload);
          else if (m.kind === 'reply') this.settle(m.id, false, m.result);
          else if (m.kind === 'error') this.settle(m.id, true, m.error);
          // A request from the accepting side has no meaning on this link; ignored.
        },
        closed: (cause) => this.lost(cause),
      },
    });
    this.attempt = dial;
    return dial.connection.finally(() => (this.attempt = null));
  }

  private settle(id: number, failed: boolean, value: unknown): void {
    const p = this.pending.get(id);
    if (!p) return; // a late reply to a request that timed out
    this.forget(id, p);
    if (failed) p.reject(toError(value));
    else p.resolve(value);
  }

  private lost(cause: Error | undefined): void {
    if (this.linkState === 'closed') return;
    const wasUp = this.linkState === 'up';
    this.opts.log.info({ remote: this.opts.remote, err: cause?.message }, 'peer link lost');
    this.rejectAll(() => new PeerLinkLostError(this.opts.remote, cause), (p) => p.frame === null);
    if (!wasUp) return;
    try {
      this.opts.onDown?.(cause);
    } catch (err) {
      this.opts.log.error({ err }, 'peer onDown threw');
    }
  }
}

function busy(message: string): TertuliaError {
  return new TertuliaError(ErrorCode.BUSY, message, { retryMs: LINK_BUSY_RETRY_MS });
}

function closedError(remote: string): TertuliaError {
  return new TertuliaError(ErrorCode.SHUTTING_DOWN, `peer link to ${remote} is closed`);
}
