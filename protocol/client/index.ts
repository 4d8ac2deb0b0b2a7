/** The Tertulia client library. */
export { TertuliaClient, newCmid, type SendOptions, type SendResult } from './client.js';
export {
  DEFAULT_CONTENT_TYPE,
  guessContentType,
  type DownloadOptions,
  type ProgressListener,
  type UploadFileOptions,
  type UploadMeta,
  type UploadOptions,
} from './attachments.js';
export { clientClosedError } from './core.js';
export { ConnectionLostError } from './connection.js';
export { ChannelStream } from './channel-stream.js';
export { Backoff, fullJitter, jitterAbove, type BackoffOptions } from './backoff.js';
export type { ClientEvents, ClientOptions, ClientState, RequestOptions, SessionUser } from './types.js';
