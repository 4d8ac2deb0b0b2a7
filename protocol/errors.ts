/**
 * Error codes: one append-only table shared by server and clients. A code is
 * never reused or renumbered; retired codes stay listed.
 */
export const ErrorCode = {
  /** The frame's payload is not one valid MessagePack value. */
  BAD_FRAME: 1,
  /** The frame's declared length exceeds the negotiated maximum. */
  FRAME_TOO_LARGE: 2,
  /** The payload is not a map with a string `op` and an unsigned integer `id`. */
  BAD_REQUEST: 3,
  /** `op` names no operation. */
  UNKNOWN_OP: 4,
  /** A field is missing, of the wrong type, too long or has forbidden characters. */
  INVALID_FIELD: 5,
  /** No protocol version in common. */
  UNSUPPORTED_VERSION: 6,
  /** The first request on a connection must be `hello`. */
  HELLO_REQUIRED: 7,
  /** The operation needs an authenticated session. */
  NOT_AUTHENTICATED: 10,
  /** Unknown user name or wrong password. */
  BAD_CREDENTIALS: 11,
  /** The user name is taken. */
  NAME_TAKEN: 12,
  /** The session token is unknown, revoked or expired. */
  INVALID_TOKEN: 13,
  /** The session is already authenticated. */
  ALREADY_AUTHENTICATED: 14,
  /** No channel with that id or name is visible to the caller. */
  NO_SUCH_CHANNEL: 20,
  /** The caller is not a member of the channel. */
  NOT_MEMBER: 21,
  /** The caller's role does not allow the operation. */
  FORBIDDEN: 22,
  /** A channel with that name exists. */
  CHANNEL_EXISTS: 23,
  /** No user with that name. */
  NO_SUCH_USER: 24,
  /** No message with that seq in the channel (or it is deleted). */
  NO_SUCH_MESSAGE: 25,
  /** Only the author may edit or delete a message. */
  NOT_AUTHOR: 26,
  /** The operation does not apply to this kind of channel. */
  WRONG_CHANNEL_KIND: 27,
  /** The server is at capacity for this resource; retry after `retryMs`. */
  BUSY: 30,
  /** Too many requests from this user; retry after `retryMs`. */
  RATE_LIMITED: 31,
  /** The connection has too many requests awaiting replies. */
  TOO_MANY_PENDING: 32,
  /** The connection did not read its data fast enough and is being closed. */
  SLOW_CONSUMER: 33,
  /** Nothing arrived within the idle timeout; the connection is being closed. */
  IDLE_TIMEOUT: 34,
  /** An internal step did not answer in time; the request may be retried. */
  TIMEOUT: 35,
  /** The server is shutting down; reconnect (to another pod). */
  SHUTTING_DOWN: 36,
  /** The connection limit of this server is reached. */
  TOO_MANY_CONNECTIONS: 37,
  /** The channel is being moved or reactivated; retry shortly. */
  NOT_OWNER: 38,
  /** Unexpected server fault; the request may be retried. */
  INTERNAL: 50,
  /** No upload in progress with that id for this user on this server (unknown, finished, expired or aborted). */
  NO_SUCH_UPLOAD: 60,
  /** No stored attachment with that id that the caller may read or post. */
  NO_SUCH_ATTACHMENT: 61,
  /** The uploaded bytes do not match the declared size or SHA-256; the upload is discarded. */
  CHECKSUM_MISMATCH: 62,
  /** The attachment is larger than `limits.maxAttachmentBytes`, or a chunk runs past the declared size. */
  TOO_LARGE: 63,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

const names = new Map<number, ErrorCodeName>(
  (Object.entries(ErrorCode) as [ErrorCodeName, number][]).map(([k, v]) => [v, k]),
);

/** Name of a numeric code, or `UNKNOWN_<n>` for a code this build does not know. */
export function errorName(code: number): string {
  return names.get(code) ?? `UNKNOWN_${code}`;
}

/** Codes after which a request may be resent unchanged. */
export const RETRYABLE: ReadonlySet<number> = new Set([
  ErrorCode.BUSY,
  ErrorCode.RATE_LIMITED,
  ErrorCode.TIMEOUT,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.NOT_OWNER,
  ErrorCode.INTERNAL,
]);

/** The error object carried on the wire. */
export interface WireError {
  code: number;
  message: string;
  /** Suggested wait before retrying, for BUSY and RATE_LIMITED. */
  retryMs?: number;
}

/** An error with a protocol code; thrown by server handlers and the client. */
export class TertuliaError extends Error {
  readonly code: number;
  readonly retryMs: number | undefined;

  constructor(code: number, message: string, options?: { cause?: unknown; retryMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TertuliaError';
    this.code = code;
    this.retryMs = options?.retryMs;
  }

  /** Symbolic name of the code, for logs and messages. */
  get codeName(): string {
    return errorName(this.code);
  }

  /** The wire form of this error. */
  toWire(): WireError {
    const w: WireError = { code: this.code, message: this.message };
    if (this.retryMs !== undefined) w.retryMs = this.retryMs;
    return w;
  }

  /** Rebuilds an error received on the wire. */
  static fromWire(w: WireError): TertuliaError {
    return new TertuliaError(w.code, w.message, w.retryMs === undefined ? undefined : { retryMs: w.retryMs });
  }
}
