/**
 * The opening of every connection, first or reconnect: hello with a version
 * check, the server's limits applied to the connection, then auth when a
 * session token is held (that is how a reconnect resumes the session).
 */
import { ErrorCode, TertuliaError } from '../errors.js';
import { PROTOCOL_VERSION, type Results } from '../messages.js';
import type { Connection } from './connection.js';

/** What the opening established. */
export interface HandshakeResult {
  hello: Results['hello'];
  /** The session, when a token was given and accepted. */
  auth?: Results['auth'];
  /** Set when the token was refused (revoked or expired): the connection is usable but unauthenticated. */
  tokenRefused?: TertuliaError;
}

/** Says hello, applies the limits to `conn`, and authenticates with `token` if given. */
export async function handshake(
  conn: Connection,
  opts: { client?: string; token?: string; maxPending: number; timeoutMs: number },
): Promise<HandshakeResult> {
  // With a token, auth goes out right behind hello: the server takes requests
  // in order, so a reconnect costs one round trip instead of two.
  const helloP = conn.request(
    'hello',
    opts.client === undefined ? { version: PROTOCOL_VERSION } : { version: PROTOCOL_VERSION, client: opts.client },
    opts.timeoutMs,
  ) as Promise<Results['hello']>;
  const authP = opts.token === undefined ? null : (conn.request('auth', { token: opts.token }, opts.timeoutMs) as Promise<Results['auth']>);
  // If hello fails, auth fails too (HELLO_REQUIRED): hello's error is the one to report.
  authP?.catch(() => {});
  const hello = await helloP;
  if (hello.version !== PROTOCOL_VERSION) {
    throw new TertuliaError(ErrorCode.UNSUPPORTED_VERSION, `server speaks version ${hello.version}`);
  }
  // Refusing locally what the server would refuse keeps an oversized request
  // or a burst from costing us the connection.
  conn.maxOutgoingFrameBytes = hello.limits.maxFrameBytes;
  conn.maxPending = Math.min(opts.maxPending, hello.limits.maxPending);
  if (!authP) return { hello };
  try {
    return { hello, auth: await authP };
  } catch (err) {
    if (err instanceof TertuliaError && err.code === ErrorCode.INVALID_TOKEN) return { hello, tokenRefused: err };
    throw err;
  }
}
