/** The Tertulia client library. */
export { TertuliaClient, newCmid, type SendResult } from './client.js';
export { clientClosedError } from './core.js';
export { ConnectionLostError } from './connection.js';
export { ChannelStream } from './channel-stream.js';
export { Backoff, fullJitter, jitterAbove, type BackoffOptions } from './backoff.js';
export type { ClientEvents, ClientOptions, ClientState, RequestOptions, SessionUser } from './types.js';
