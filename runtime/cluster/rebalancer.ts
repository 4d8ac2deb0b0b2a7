/**
 * Moves channels to the pod placement prefers after pods join or leave, by
 * handoff: the local actor stops (its writes commit, its followers are told it
 * moved), its claim is released, and the next request activates it on the
 * preferred pod. Rate-limited, so a joining pod is not flooded and clients see
 * at most a short pause per channel.
 */
import type { Logger } from 'pino';
import type { LocalChannels } from '../../actors/router.js';
import type { Ownership } from './ownership.js';

export class Rebalancer {
  private queue: number[] = [];
  private running = false;
  private stopped = false;
  private moved = 0;

  constructor(
    private readonly local: LocalChannels,
    private readonly ownership: Ownership,
    private readonly perSecond: number,
    private readonly log: Logger,
  ) {}

  /** Channels handed off so far. */
  get handedOff(): number {
    return this.moved;
  }

  /** Placement changed: queue every local channel that now belongs elsewhere. */
  scan(): void {
    if (this.stopped) return;
    const queued = new Set(this.queue);
    for (const ch of this.local.keys()) if (!queued.has(ch) && !this.ownership.preferredHere(ch)) this.queue.push(ch);
    if (this.queue.length > 0 && !this.running) void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
  }

  private async run(): Promise<void> {
    this.running = true;
    const gapMs = 1000 / this.perSecond;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const ch = this.queue.shift()!;
        // Placement may have changed back while this channel waited its turn.
        if (this.ownership.preferredHere(ch)) continue;
        try {
          await this.local.stopKey(ch);
          this.moved++;
        } catch (err) {
          this.log.warn({ channel: ch, err: (err as Error).message }, 'handoff failed');
        }
        await new Promise((r) => setTimeout(r, gapMs));
      }
      if (this.moved > 0) this.log.info({ handedOff: this.moved }, 'rebalanced');
    } finally {
      this.running = false;
    }
  }
}
