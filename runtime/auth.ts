import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import { StoreError, type Store } from './ports.js';
import { SessionLookups } from './session-lookups.js';

export interface Authenticated {
  user: number;
  name: string;
  token: string;
  tokenHash: Buffer;
  expires: number;
}

const KEY_BYTES = 32;

/**
 * Accounts and sessions: scrypt with a per-user salt for passwords; opaque
 * random tokens of which only the sha256 is stored.
 */
export class AuthService {
  // Hashed when a name is unknown so a login takes as long either way.
  private readonly decoySalt = randomBytes(16);
  private readonly sessions: SessionLookups;

  constructor(
    private readonly store: Store,
    private readonly opts: { tokenTtlMs: number; scryptCost: number },
  ) {
    this.sessions = new SessionLookups(store);
  }

  async register(name: string, password: string): Promise<Authenticated> {
    const salt = randomBytes(16);
    const hash = await this.hash(password, salt);
    try {
      const user = await this.store.createUser(name, hash, salt);
      return await this.issue(user.id, user.name);
    } catch (err) {
      if (err instanceof StoreError && err.kind === 'conflict') {
        throw new TertuliaError(ErrorCode.NAME_TAKEN, `the name "${name}" is taken`);
      }
      throw err;
    }
  }

  async login(name: string, password: string): Promise<Authenticated> {
    const cred = await this.store.findCredentials(name);
    const hash = await this.hash(password, cred?.salt ?? this.decoySalt);
    if (!cred || cred.passwordHash.length !== hash.length || !timingSafeEqual(cred.passwordHash, hash)) {
      throw new TertuliaError(ErrorCode.BAD_CREDENTIALS, 'unknown name or wrong password');
    }
    return this.issue(cred.id, cred.name);
  }

  async resume(token: string): Promise<Omit<Authenticated, 'token'>> {
    const tokenHash = hashToken(token);
    const s = await this.sessions.find(tokenHash);
    if (!s) throw new TertuliaError(ErrorCode.INVALID_TOKEN, 'the token is unknown, revoked or expired');
    return { user: s.userId, name: s.name, tokenHash, expires: s.expiresAt };
  }

  async logout(tokenHash: Buffer): Promise<void> {
    await this.store.deleteSession(tokenHash);
  }

  private async issue(user: number, name: string): Promise<Authenticated> {
    const token = randomBytes(32).toString('base64url');
    const tokenHash = hashToken(token);
    const expires = Date.now() + this.opts.tokenTtlMs;
    await this.store.createSession(user, tokenHash, expires);
    return { user, name, token, tokenHash, expires };
  }

  private hash(password: string, salt: Buffer): Promise<Buffer> {
    const N = this.opts.scryptCost;
    return new Promise((resolve, reject) =>
      scrypt(password, salt, KEY_BYTES, { N, r: 8, p: 1, maxmem: 256 * N * 8 + 1024 * 1024 }, (err, key) =>
        err ? reject(err) : resolve(key),
      ),
    );
  }
}

/** Only this digest of a token is ever stored. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
