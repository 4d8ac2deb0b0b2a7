/**
 * Group commit across channels. Every channel actor commits its own batches
 * one at a time; under load dozens of them are ready in the same event-loop
 * turn. This gathers the appends requested during a turn and sends them as
 * one combined statement, keeping at most `maxInFlight` statements running:
 * what arrives while that many are in flight waits for the next free slot and
 * goes with everything else that is waiting. At low load a lone append still
 * leaves at the end of its turn; under load the database sees a few large
 * statements instead of one small one per channel, and the pool is no longer
 * what appends queue for.
 */
import type { AppendOutcome } from '../ports.js';
import type { AppendRequest, AppendResult } from './append-sql.js';

interface Waiting extends AppendRequest {
  rows: number;
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (err: unknown) => void;
}

export interface AppendCombinerOptions {
  /** Combined statements running at once. */
  maxInFlight: number;
  /** Most messages in one statement; a request larger than this goes alone. */
  maxRows: number;
}

export class AppendCombiner {
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Channels with a statement in flight: their next batch waits for it, so a channel's batches commit in order. */
  private readonly busy = new Set<number>();

  constructor(
    private readonly run: (requests: readonly AppendRequest[]) => Promise<AppendResult[]>,
    private readonly opts: AppendCombinerOptions,
  ) {
    if (!(opts.maxInFlight >= 1) || !(opts.maxRows >= 1)) throw new RangeError('combiner limits must be at least 1');
  }

  /** Statements running now (for tests and metrics). */
  get running(): number {
    return this.inFlight;
  }

  /** Appends one channel's batch; settles when the statement that carried it has committed or failed. */
  append(request: AppendRequest): Promise<AppendOutcome[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ ...request, rows: request.batch.length, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.waiting.length === 0) return;
    this.scheduled = true;
    // The end of this turn: every actor whose commit finished in it has asked by then.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.waiting.length > 0 && this.inFlight < this.opts.maxInFlight) {
      const group = this.takeGroup();
      if (group.length === 0) return;
      this.inFlight++;
      for (const w of group) this.busy.add(w.channelId);
      this.run(group).then(
        (results) => group.forEach((w, i) => settle(w, results[i])),
        (err: unknown) => group.forEach((w) => w.reject(err)),
      ).finally(() => {
        this.inFlight--;
        for (const w of group) this.busy.delete(w.channelId);
        this.schedule();
      });
    }
  }

  /**
   * The oldest waiting requests that fit, one per channel and none of a
   * channel already in flight; a repeat of a channel waits for a later group.
   */
  private takeGroup(): Waiting[] {
    const group: Waiting[] = [];
    const rest: Waiting[] = [];
    const channels = new Set<number>(this.busy);
    let rows = 0;
    for (const w of this.waiting) {
      const fits = group.length === 0 || rows + w.rows <= this.opts.maxRows;
      if (fits && !channels.has(w.channelId)) {
        group.push(w);
        rows += w.rows;
      } else {
        rest.push(w);
      }
      // Later requests of a channel that had to wait must not overtake it.
      channels.add(w.channelId);
    }
    this.waiting = rest;
    return group;
  }
}

function settle(w: Waiting, result: AppendResult | undefined): void {
  if (!result) w.reject(new Error('combined append returned too few results'));
  else if (result.ok) w.resolve(result.outcomes);
  else w.reject(result.error);
}
