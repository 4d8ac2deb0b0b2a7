/**
 * The peer link's wire shapes and limits. Frames and payloads are the client
 * protocol's (4-byte length + plain MessagePack map); only the vocabulary
 * differs. After authentication:
 *   request  {op, id, ...args}              the connecting pod -> the accepting pod
 *   reply    {id, result} | {id, error}     the accepting pod -> the connecting pod
 *   push     {ev, ...payload}               either way, no reply
 * Request args and push payloads are flat in the map, so `op`, `id` and `ev`
 * cannot be used as argument names.
 */
/** A pod as its peer authenticated it. */
export interface PeerIdentity {
  pod: string;
  incarnation: number;
}

export type PeerMessage =
  | { kind: 'request'; op: string; id: number; args: Record<string, unknown> }
  | { kind: 'reply'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: unknown }
  | { kind: 'push'; ev: string; payload: Record<string, unknown> };

/** Sizes and caps of one link; every one bounds memory that input could grow. */
export interface PeerLimits {
  /** Largest payload accepted after authentication. */
  maxFrameBytes: number;
  /** Largest payload accepted before it: an auth message is ~200 bytes. */
  handshakeFrameBytes: number;
  /**
   * Outbound bytes (queued + in the socket's user-space buffer) past which new
   * requests are refused with BUSY and pushes are dropped, instead of being
   * buffered for a peer that does not read.
   */
  highWaterBytes: number;
  /** Requests awaiting replies: per client, and per accepted connection on the server. */
  maxInFlight: number;
}

export const DEFAULT_PEER_LIMITS: Readonly<PeerLimits> = Object.freeze({
  maxFrameBytes: 8 * 1024 * 1024,
  handshakeFrameBytes: 4 * 1024,
  highWaterBytes: 4 * 1024 * 1024,
  maxInFlight: 4096,
});

/** The retry hint on BUSY refusals that come from the link itself. */
export const LINK_BUSY_RETRY_MS = 50;

/** Fills unset limits with the defaults and checks they make sense. */
export function peerLimits(partial: Partial<PeerLimits> = {}): PeerLimits {
  const l = { ...DEFAULT_PEER_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`peer limit ${k} must be a positive integer, got ${v}`);
  }
  return l;
}

const MAX_ID = 0xffffffff;

/** Classifies one decoded payload; null for anything that is not a peer message. */
export function parsePeerMessage(value: unknown): PeerMessage | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) return null;
  const m = value as Record<string, unknown>;
  if (typeof m.op === 'string') {
    if (!isId(m.id)) return null;
    const { op, id, ...args } = m;
    return { kind: 'request', op, id: id as number, args };
  }
  if (typeof m.ev === 'string') {
    const { ev, ...payload } = m;
    return { kind: 'push', ev, payload };
  }
  if (isId(m.id)) {
    if (m.error !== undefined && m.error !== null) return { kind: 'error', id: m.id, error: m.error };
    return { kind: 'reply', id: m.id, result: m.result };
  }
  return null;
}

export function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_ID;
}

/** The next request id after `id`, wrapping and never 0 (the auth exchange owns 0). */
export function nextId(id: number): number {
  return id >= MAX_ID ? 1 : id + 1;
}

/** Splits "host:port" or "[v6]:port" as found in PodInfo.peer. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new RangeError(`peer address "${address}" is not host:port`);
  return { host: (m[1] ?? m[2])!, port };
}
