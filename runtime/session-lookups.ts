/**
 * Token lookups batched into statements: every `auth` that arrives while the
 * previous lookup is in flight (a crowd reconnecting after a failover, a
 * pod's clients after a restart) is answered by the next statement, so a
 * storm of reconnects costs the database a few statements, not one each.
 */
import type { SessionRecord, Store } from './ports.js';
import { TurnBatcher } from './turn-batcher.js';

/** Most tokens looked up by one statement. */
const MAX_BATCH = 500;

export class SessionLookups {
  private readonly lookups: TurnBatcher<Buffer, SessionRecord | null>;

  constructor(store: Pick<Store, 'findSessions'>) {
    this.lookups = new TurnBatcher(
      async (hashes) => (await store.findSessions(hashes, Date.now())).map((value) => ({ ok: true as const, value })),
      { maxInFlight: 1, maxWeight: MAX_BATCH },
    );
  }

  /** The live session of a token hash, or null. */
  find(hash: Buffer): Promise<SessionRecord | null> {
    return this.lookups.submit(hash);
  }
}
