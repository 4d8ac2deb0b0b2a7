/**
 * Token lookups gathered per turn of the event loop: every `auth` that arrives
 * in one turn (a crowd reconnecting after a failover, a pod's clients after a
 * restart) is answered by one statement instead of one round trip each.
 */
import type { SessionRecord, Store } from './ports.js';

/** Most tokens looked up by one statement. */
const MAX_BATCH = 500;

interface Pending {
  hash: Buffer;
  resolve: (s: SessionRecord | null) => void;
  reject: (err: unknown) => void;
}

export class SessionLookups {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: Pick<Store, 'findSessions'>) {}

  /** The live session of a token hash, or null. */
  find(hash: Buffer): Promise<SessionRecord | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ hash, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    const now = Date.now();
    for (let i = 0; i < all.length; i += MAX_BATCH) {
      const batch = all.slice(i, i + MAX_BATCH);
      this.store.findSessions(batch.map((p) => p.hash), now).then(
        (found) => batch.forEach((p, k) => p.resolve(found[k] ?? null)),
        (err: unknown) => batch.forEach((p) => p.reject(err)),
      );
    }
  };
}
