/**
 * Mutual challenge–response over a shared cluster secret; the secret never
 * crosses the wire. Each side proves it holds the secret by MACing the other
 * side's fresh nonce, so a recorded exchange cannot be replayed.
 *
 *   server -> {ev: 'challenge', pod: S, nonce: Ns}
 *   client -> {op: 'auth', id: 0, pod: C, incarnation, nonce: Nc,
 *              mac: HMAC-SHA256(secret, "tertulia-peer-v1|client|" + hex(Ns) + "|" + C + "|" + hex(Nc))}
 *   server -> {id: 0, result: {mac: HMAC-SHA256(secret, "tertulia-peer-v1|server|" + hex(Nc) + "|" + S + "|" + hex(Ns))}}
 *
 * Nonces are 32 random bytes sent as `bin` and written in hex inside the MAC
 * input; pod ids may not contain "|", so the input splits one way only. Only
 * the exchange is authenticated: later frames travel in clear and unsigned,
 * so the peer port belongs on the cluster's private network.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PeerIdentity } from './wire.js';

const LABEL = 'tertulia-peer-v1';
export const NONCE_BYTES = 32;
const MAC_BYTES = 32;
const MAX_POD_ID = 128;
const MIN_SECRET_BYTES = 16;

/** Why a handshake failed; logged by the side that hangs up, never sent. */
export class PeerAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerAuthError';
  }
}

/** The secret as bytes; refuses secrets too short to resist guessing. */
export function clusterSecret(secret: string | Buffer): Buffer {
  const b = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (b.length < MIN_SECRET_BYTES) throw new RangeError(`cluster secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return b;
}

export function validPodId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_POD_ID && !v.includes('|');
}

function mac(secret: Buffer, role: 'client' | 'server', nonceA: Buffer, pod: string, nonceB: Buffer): Buffer {
  return createHmac('sha256', secret)
    .update(`${LABEL}|${role}|${nonceA.toString('hex')}|${pod}|${nonceB.toString('hex')}`)
    .digest();
}

function bytes(v: unknown, n: number): v is Buffer {
  return v instanceof Uint8Array && v.length === n;
}

function asMap(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw new PeerAuthError('handshake message is not a map');
  }
  return v as Record<string, unknown>;
}

/** The accepting side: issues the challenge, checks the answer, proves itself back. */
export class ServerHandshake {
  private readonly nonce = randomBytes(NONCE_BYTES);

  constructor(
    private readonly secret: Buffer,
    private readonly pod: string,
  ) {}

  get challenge(): Record<string, unknown> {
    return { ev: 'challenge', pod: this.pod, nonce: this.nonce };
  }

  /** Checks the client's auth request; returns who it is and the reply to send. Throws PeerAuthError. */
  verify(message: unknown): { from: PeerIdentity; reply: Record<string, unknown> } {
    const m = asMap(message);
    if (m.op !== 'auth' || m.id !== 0) throw new PeerAuthError('first message is not auth');
    const { pod, incarnation, nonce } = m;
    if (!validPodId(pod)) throw new PeerAuthError('auth carries no valid pod id');
    if (!Number.isSafeInteger(incarnation)) throw new PeerAuthError('auth carries no valid incarnation');
    if (!bytes(nonce, NONCE_BYTES) || !bytes(m.mac, MAC_BYTES)) throw new PeerAuthError('auth nonce or mac malformed');
    const expected = mac(this.secret, 'client', this.nonce, pod, nonce);
    if (!timingSafeEqual(expected, m.mac)) throw new PeerAuthError(`bad mac from "${pod}"`);
    const proof = mac(this.secret, 'server', nonce, this.pod, this.nonce);
    return { from: { pod, incarnation: incarnation as number }, reply: { id: 0, result: { mac: proof } } };
  }
}

/** The connecting side: answers the challenge, then checks the server's proof. */
export class ClientHandshake {
  private readonly nonce = randomBytes(NONCE_BYTES);
  private serverNonce: Buffer | null = null;
  private serverPod = '';

  constructor(
    private readonly secret: Buffer,
    private readonly self: PeerIdentity,
    private readonly expectedPod: string | undefined,
  ) {}

  /** Takes the challenge and returns the auth request. Throws PeerAuthError. */
  answer(message: unknown): Record<string, unknown> {
    const m = asMap(message);
    if (m.ev !== 'challenge' || !validPodId(m.pod) || !bytes(m.nonce, NONCE_BYTES)) {
      throw new PeerAuthError('expected a challenge');
    }
    // A registry entry can outlive its pod and the address be reused by another.
    if (this.expectedPod !== undefined && m.pod !== this.expectedPod) {
      throw new PeerAuthError(`expected pod "${this.expectedPod}" but "${m.pod}" answered`);
    }
    this.serverNonce = m.nonce;
    this.serverPod = m.pod;
    const proof = mac(this.secret, 'client', m.nonce, this.self.pod, this.nonce);
    return { op: 'auth', id: 0, pod: this.self.pod, incarnation: this.self.incarnation, nonce: this.nonce, mac: proof };
  }

  /** Takes the auth reply; returns the server's pod id once its proof checks out. Throws PeerAuthError. */
  confirm(message: unknown): string {
    const m = asMap(message);
    if (this.serverNonce === null) throw new PeerAuthError('reply before challenge');
    if (m.id !== 0) throw new PeerAuthError('expected the auth reply');
    const result = m.result as Record<string, unknown> | undefined;
    if (typeof result !== 'object' || result === null || !bytes(result.mac, MAC_BYTES)) {
      throw new PeerAuthError('server refused or sent no proof');
    }
    const expected = mac(this.secret, 'server', this.nonce, this.serverPod, this.serverNonce);
    if (!timingSafeEqual(expected, result.mac)) throw new PeerAuthError(`bad mac from server "${this.serverPod}"`);
    return this.serverPod;
  }
}
