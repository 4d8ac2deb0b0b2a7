/**
 * The client's connection lifecycle: connect, hello, resume the session,
 * heartbeat, reconnect with backoff, and the request path that waits for a
 * connection and retries what is safe to retry. The public API on top of it
 * is TertuliaClient (client.ts).
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, RETRYABLE, TertuliaError } from '../errors.js';
import { type Events, type Limits, type MessageView, type Op, type Requests, type Results } from '../messages.js';
import { Backoff, jitterAbove, sleep, type BackoffOptions } from './backoff.js';
import { Connection, ConnectionLostError, toError } from './connection.js';
import { handshake } from './handshake.js';
import { Heartbeat } from './heartbeat.js';
import { ServerList } from './servers.js';
import { Subscriptions } from './subscriptions.js';
import type { ClientEvents, ClientOptions, ClientState, RequestOptions, SessionUser } from './types.js';

const DEFAULT_RECONNECT: BackoffOptions = { initialMs: 100, maxMs: 5000 };
// Bounds resends of one request; the deadline bounds them too.
// The deadline is the real bound; this only stops a tight loop of instant refusals.
const MAX_ATTEMPTS = 32;

type ResolvedOptions = Required<Omit<ClientOptions, 'name' | 'token' | 'pongTimeoutMs' | 'maxHeldMessages' | 'alternates'>> &
  Pick<ClientOptions, 'name' | 'pongTimeoutMs'>;

/**
 * The error of a request made after close(), or pending when close() ran. Its
 * code is SHUTTING_DOWN (this client is shutting down); retrying is pointless
 * on this instance.
 */
export function clientClosedError(): TertuliaError {
  return new TertuliaError(ErrorCode.SHUTTING_DOWN, 'client closed');
}

/** Connection lifecycle and the request path; extended by TertuliaClient. */
export class ClientCore extends EventEmitter<ClientEvents> {
  protected readonly opts: ResolvedOptions;
  protected readonly subscriptions: Subscriptions;
  private currentState: ClientState = 'idle';
  private conn: Connection | null = null;
  private generation = 0;
  private heartbeat: Heartbeat | null = null;
  private serverLimits: Limits | null = null;
  private sessionToken: string | undefined;
  private sessionUser: SessionUser | undefined;
  private outstanding = 0;
  private readonly stateWaiters = new Set<() => void>();
  private readonly abort = new AbortController();
  private readonly servers: ServerList;

  constructor(options: ClientOptions) {
    super();
    this.opts = {
      host: options.host,
      port: options.port,
      name: options.name,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxPending: options.maxPending ?? 256,
      reconnect: options.reconnect === undefined ? DEFAULT_RECONNECT : options.reconnect,
      pongTimeoutMs: options.pongTimeoutMs,
      maxIncomingFrameBytes: options.maxIncomingFrameBytes ?? 16 * 1024 * 1024,
      random: options.random ?? Math.random,
    };
    this.servers = new ServerList({ host: options.host, port: options.port }, options.alternates);
    this.sessionToken = options.token;
    this.subscriptions = new Subscriptions(
      {
        request: (op, args) => this.rawRequest(op, args),
        deliver: (m) => this.fire('message', m),
        dropped: (channel, error) => this.report(error, { channel }),
        historyPage: () => this.serverLimits?.historyPage ?? 200,
        signal: this.abort.signal,
      },
      options.reconnect || DEFAULT_RECONNECT,
      options.maxHeldMessages,
    );
  }

  /** The lifecycle state. */
  get state(): ClientState {
    return this.currentState;
  }

  /** The server's limits from the last hello, or null before the first. */
  get limits(): Limits | null {
    return this.serverLimits;
  }

  /** The authenticated user, or undefined. */
  get user(): SessionUser | undefined {
    return this.sessionUser;
  }

  /** The session token used to resume after a reconnect, or undefined. */
  get token(): string | undefined {
    return this.sessionToken;
  }

  /**
   * Connects, sends hello and, with a token (from the options or an earlier
   * login), auth; resubscribes channels recorded before. Allowed when idle or
   * disconnected. A refused token does not fail connect(): the session is
   * dropped and reported as an 'error' event.
   */
  async connect(): Promise<Results['hello']> {
    if (this.currentState !== 'idle' && this.currentState !== 'disconnected') {
      throw new TertuliaError(ErrorCode.BAD_REQUEST, `cannot connect while ${this.currentState}`);
    }
    const before = this.currentState;
    this.setState('connecting');
    try {
      const hello = await this.establish();
      this.established();
      return hello;
    } catch (err) {
      if ((this.currentState as ClientState) === 'connecting') this.setState(before);
      throw err;
    }
  }

  /**
   * Sends a request and resolves with its result. Waits for a reconnect in
   * progress, all within the deadline (TIMEOUT after it). Rejects at once with
   * TOO_MANY_PENDING over maxPending, with the server's error as a
   * TertuliaError, and with ConnectionLostError (code TIMEOUT, outcome unknown)
   * when the connection drops before the reply — unless `retry` is set.
   */
  async request<K extends Op>(op: K, args: Requests[K], options: RequestOptions = {}): Promise<Results[K]> {
    if (this.currentState === 'closed') throw clientClosedError();
    if (this.currentState === 'idle') throw new TertuliaError(ErrorCode.HELLO_REQUIRED, 'call connect() first');
    if (this.outstanding >= this.opts.maxPending) {
      throw new TertuliaError(ErrorCode.TOO_MANY_PENDING, `${this.outstanding} requests already await replies`);
    }
    this.outstanding++;
    try {
      return await this.perform(op, args, Date.now() + (options.timeoutMs ?? this.opts.requestTimeoutMs), options.retry === true);
    } finally {
      this.outstanding--;
    }
  }

  /** Ends the connection and every timer; pending and later requests reject with clientClosedError(). */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.abort.abort();
    this.stopHeartbeat();
    this.setState('closed');
    const conn = this.conn;
    this.conn = null;
    this.generation++;
    if (conn) await conn.close(clientClosedError());
  }

  private async perform<K extends Op>(op: K, args: Requests[K], deadline: number, retry: boolean): Promise<Results[K]> {
    const backoff = new Backoff(this.opts.reconnect || DEFAULT_RECONNECT, this.opts.random);
    for (let attempt = 1; ; attempt++) {
      const conn = await this.whenConnected(deadline, op);
      let result: Results[K];
      try {
        result = (await conn.request(op, args, Math.max(1, deadline - Date.now()))) as Results[K];
      } catch (err) {
        if (this.currentState === 'closed') throw clientClosedError();
        if (!retry || !(err instanceof TertuliaError) || attempt >= MAX_ATTEMPTS) throw err;
        if (err instanceof ConnectionLostError) continue; // whenConnected waits for the reconnect
        if (!RETRYABLE.has(err.code) || Date.now() >= deadline) throw err;
        const wait = err.retryMs !== undefined ? jitterAbove(err.retryMs, this.opts.random) : backoff.next();
        if (Date.now() + wait >= deadline) throw err;
        await sleep(wait, this.abort.signal);
        continue;
      }
      this.remember(op, args, result);
      return result;
    }
  }

  /** A request on the current connection as it is, for internal traffic (no waiting, no cap of ours). */
  private rawRequest<K extends Op>(op: K, args: Requests[K]): Promise<Results[K]> {
    const conn = this.currentState === 'connected' ? this.conn : null;
    if (!conn) return Promise.reject(new ConnectionLostError(undefined, 'not connected'));
    return conn.request(op, args, this.opts.requestTimeoutMs) as Promise<Results[K]>;
  }

  /** Resolves with the connection once connected; rejects at the deadline or when no reconnect is coming. */
  private whenConnected(deadline: number, op: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.currentState === 'connected' && this.conn) resolve(this.conn);
        else if (this.currentState === 'closed') reject(clientClosedError());
        else if (this.currentState === 'disconnected' || this.currentState === 'idle') {
          reject(new ConnectionLostError(undefined, 'not connected; call connect()'));
        }
        else if (Date.now() >= deadline) reject(new TertuliaError(ErrorCode.TIMEOUT, `${op}: not connected in time`));
        else return false;
        return true;
      };
      if (check()) return;
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.stateWaiters.delete(waiter);
      };
      const timer = setTimeout(waiter, Math.max(0, deadline - Date.now()));
      this.stateWaiters.add(waiter);
    });
  }

  /** Tracks the session so a reconnect can resume it. */
  private remember(op: Op, args: unknown, result: unknown): void {
    if (op === 'login' || op === 'register') {
      const r = result as Results['login'];
      this.sessionToken = r.token;
      this.sessionUser = { user: r.user, name: r.name };
    } else if (op === 'auth') {
      const r = result as Results['auth'];
      this.sessionToken = (args as Requests['auth']).token;
      this.sessionUser = { user: r.user, name: r.name };
    } else if (op === 'logout') {
      this.sessionToken = undefined;
      this.sessionUser = undefined;
      // An unauthenticated connection can hold no subscriptions.
      this.subscriptions.clear();
    }
  }

  /** Opens a connection, says hello and resumes the session; the state is left to the caller. */
  private async establish(): Promise<Results['hello']> {
    const gen = ++this.generation;
    const address = this.servers.current;
    const conn = await Connection.open(
      {
        host: address.host,
        port: address.port,
        maxIncomingFrameBytes: this.opts.maxIncomingFrameBytes,
        maxPending: this.opts.maxPending,
        connectTimeoutMs: this.opts.requestTimeoutMs,
      },
      {
        push: (m) => {
          if (gen === this.generation) this.onPush(m);
        },
        close: (error) => {
          if (gen === this.generation) this.onDrop(error);
        },
      },
    );
    if (gen !== this.generation) {
      await conn.close(clientClosedError());
      throw clientClosedError();
    }
    this.conn = conn;
    try {
      const r = await handshake(conn, {
        client: this.opts.name,
        token: this.sessionToken,
        maxPending: this.opts.maxPending,
        timeoutMs: this.opts.requestTimeoutMs,
      });
      this.serverLimits = r.hello.limits;
      if (r.auth) this.sessionUser = { user: r.auth.user, name: r.auth.name };
      if (r.tokenRefused) {
        // The session is gone (revoked or expired): carry on unauthenticated, without subscriptions.
        this.sessionToken = undefined;
        this.sessionUser = undefined;
        this.subscriptions.clear();
        this.report(r.tokenRefused, {});
      }
      return r.hello;
    } catch (err) {
      if (this.conn === conn) this.conn = null;
      await conn.close(err instanceof Error ? err : undefined);
      throw err;
    }
  }

  /** Marks the new connection usable: state, heartbeat, resubscription. */
  private established(): void {
    const conn = this.conn;
    const limits = this.serverLimits;
    if (!conn || !limits) return;
    this.setState('connected');
    this.heartbeat = new Heartbeat(conn, limits.heartbeatMs, this.opts.pongTimeoutMs ?? limits.heartbeatMs, (reason) => {
      void conn.close(reason);
    });
    this.heartbeat.start();
    void this.subscriptions.resubscribeAll();
  }

  private onDrop(error: Error | undefined): void {
    // Drops during connect/reconnect fail that attempt's requests; the attempt handles them.
    if (this.currentState !== 'connected') return;
    this.conn = null;
    this.stopHeartbeat();
    const willReconnect = this.opts.reconnect !== false;
    this.setState(willReconnect ? 'reconnecting' : 'disconnected');
    this.fire('disconnect', error === undefined ? { willReconnect } : { error, willReconnect });
    if (willReconnect) void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    const backoff = new Backoff(this.opts.reconnect || DEFAULT_RECONNECT, this.opts.random);
    while (this.currentState === 'reconnecting') {
      await sleep(backoff.next(), this.abort.signal);
      if (this.currentState !== 'reconnecting') return;
      try {
        await this.establish();
      } catch (err) {
        if (this.currentState !== 'reconnecting') return;
        // The next attempt goes to the next known server of the cluster.
        this.servers.advance();
        if (err instanceof TertuliaError && err.code === ErrorCode.UNSUPPORTED_VERSION) {
          // The server was replaced by one we cannot talk to: retrying cannot help.
          this.report(err, {});
          await this.close();
          return;
        }
        continue;
      }
      if (this.currentState !== 'reconnecting') return;
      this.established();
      this.fire('reconnect', { attempts: backoff.attempts });
      return;
    }
  }

  private onPush(m: Record<string, unknown>): void {
    switch (m.ev) {
      case 'msg':
        this.subscriptions.onMessage(strip(m) as unknown as MessageView);
        return;
      case 'member': {
        const e = m as unknown as Events['member'];
        // The server ends a kicked user's subscription; forget it so resume does not retry it.
        if (e.action === 'kicked' && e.user === this.sessionUser?.user) this.subscriptions.forget(e.channel);
        this.fire('member', strip(e));
        return;
      }
      case 'edit':
      case 'delete':
      case 'typing':
      case 'presence':
        this.fire(m.ev, strip(m) as never);
        return;
      case 'error':
        this.report(toError(m.error), {});
        return;
      case 'move':
        // The server is going away and named the others: reconnect to one of them.
        this.servers.moveTo(m.servers, this.opts.random);
        return;
      default:
      // Events this version does not know are ignored.
    }
  }

  /** Emits 'error' only when someone listens: EventEmitter would throw otherwise. */
  private report(error: TertuliaError, context: { channel?: number }): void {
    if (this.listenerCount('error') > 0) this.fire('error', error, context);
  }

  /**
   * Emits without letting a throwing listener unwind into our own state
   * (a half-delivered batch, a half-parsed socket chunk); the error is rethrown
   * on its own, as an uncaught exception like any listener's.
   */
  private fire<K extends keyof ClientEvents>(name: K, ...args: ClientEvents[K]): void {
    try {
      (this.emit as (n: K, ...a: ClientEvents[K]) => boolean)(name, ...args);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private stopHeartbeat(): void {
    this.heartbeat?.stop();
    this.heartbeat = null;
  }

  private setState(next: ClientState): void {
    if (next === this.currentState) return;
    this.currentState = next;
    for (const w of [...this.stateWaiters]) w();
    this.fire('state', next);
  }
}

/** The event without its `ev` tag. */
function strip<T extends object>(event: T): T {
  const { ev: _ev, ...rest } = event as T & { ev?: unknown };
  return rest as T;
}
