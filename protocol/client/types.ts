/** Options, states and events of the client. */
import type { TertuliaError } from '../errors.js';
import type { Events, MessageView } from '../messages.js';
import type { BackoffOptions } from './backoff.js';

/** Options of a TertuliaClient; only host and port are required. */
export interface ClientOptions {
  host: string;
  port: number;
  /**
   * Other servers of the same cluster, tried in turn when reconnecting to the
   * current one fails (behind a load balancer, one address is enough).
   */
  alternates?: { host: string; port: number }[];
  /** Sent as `hello.client`: 0–64 printable characters naming the application. */
  name?: string;
  /** Default deadline of a request, including waiting for a reconnect and retries (10000). */
  requestTimeoutMs?: number;
  /** Requests awaiting replies beyond which new ones are refused locally (256; lowered to the server's limit). */
  maxPending?: number;
  /** Backoff between reconnect attempts, or false to stay disconnected (default {initialMs: 100, maxMs: 5000}). */
  reconnect?: BackoffOptions | false;
  /** A token from an earlier login, to resume that session on connect(). */
  token?: string;
  /** How long a heartbeat ping may go unanswered before the server is declared dead (default: the server's heartbeatMs). */
  pongTimeoutMs?: number;
  /** Largest frame accepted from the server (16 MiB). */
  maxIncomingFrameBytes?: number;
  /** Messages held per channel while a gap is filled (1000). */
  maxHeldMessages?: number;
  /** Uniform random source in [0, 1) for jitter; tests inject one. */
  random?: () => number;
}

/** Per-request options. */
export interface RequestOptions {
  /** Deadline of this request in ms, instead of requestTimeoutMs. */
  timeoutMs?: number;
  /**
   * Resend after a lost connection and after retryable errors (BUSY,
   * RATE_LIMITED, …) until the deadline. Only for requests that are safe to
   * repeat; `send` always retries, with the same cmid.
   */
  retry?: boolean;
}

/**
 * idle: never connected. connecting: connect() running. connected: hello (and
 * auth, with a token) done. reconnecting: the connection dropped and a new one
 * is being made. disconnected: dropped with reconnect disabled. closed: close() called.
 */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

/** The session the server knows this client as, once authenticated. */
export interface SessionUser {
  user: number;
  name: string;
}

/** Events of a TertuliaClient, as listener argument tuples. */
export interface ClientEvents {
  /** A message of a subscribed channel: in seq order per channel, each seq once. */
  message: [message: MessageView];
  edit: [event: Events['edit']];
  delete: [event: Events['delete']];
  typing: [event: Events['typing']];
  presence: [event: Events['presence']];
  member: [event: Events['member']];
  /**
   * A server `error` event (idle timeout, slow consumer, shutdown, …) or a
   * failure with no caller to reject: a subscription ended (`channel` set) or
   * the session token was refused on resume. Emitted only while a listener is attached.
   */
  error: [error: TertuliaError, context: { channel?: number }];
  /** The connection dropped; `willReconnect` tells whether a reconnect follows. */
  disconnect: [info: { error?: Error; willReconnect: boolean }];
  /** A reconnect succeeded (hello and auth done); resubscription follows. */
  reconnect: [info: { attempts: number }];
  state: [state: ClientState];
}
