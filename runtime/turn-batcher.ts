/**
 * Batches requests into statements, at most a few in flight. Callers ask one
 * at a time (a channel actor its next commit, a connection its token); under
 * load dozens ask in the same event-loop turn. What is asked during a turn
 * leaves at its end as one statement; while `maxInFlight` statements are
 * running, new requests wait and go together in the next. At low load a lone
 * request still leaves at the end of its turn; under load the database sees
 * a few large statements instead of one small one per caller. Measured here,
 * a statement's cost to the pod is mostly the write that wakes the database
 * and the scheduling that follows, not its size.
 */

/** What a statement says of one request: its value, or why that request alone was refused. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface TurnBatcherOptions<R> {
  /** Statements running at once. */
  maxInFlight: number;
  /** Most weight in one statement; a request heavier than this goes alone. */
  maxWeight: number;
  /** A request's weight (rows it carries); 1 when not given. */
  weight?: (request: R) => number;
  /**
   * Requests with the same key never share a statement or run at once, so
   * they settle in the order asked (a channel's commits).
   */
  key?: (request: R) => number | string;
}

interface Waiting<R, T> {
  request: R;
  weight: number;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export class TurnBatcher<R, T> {
  private waiting: Waiting<R, T>[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Keys with a statement in flight. */
  private readonly busy = new Set<number | string>();

  /** `run` carries a group in one statement and settles each request of it, in order; rejecting fails them all. */
  constructor(
    private readonly run: (group: R[]) => Promise<Settled<T>[]>,
    private readonly opts: TurnBatcherOptions<R>,
  ) {
    if (!(opts.maxInFlight >= 1) || !(opts.maxWeight >= 1)) throw new RangeError('batcher limits must be at least 1');
  }

  /** Statements running now. */
  get running(): number {
    return this.inFlight;
  }

  /** Settles when the statement that carried the request has finished. */
  submit(request: R): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, weight: this.opts.weight?.(request) ?? 1, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.waiting.length === 0) return;
    this.scheduled = true;
    // The end of this turn: every caller whose previous request settled in it has asked by then.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.waiting.length > 0 && this.inFlight < this.opts.maxInFlight) {
      const group = this.takeGroup();
      if (group.length === 0) return;
      this.start(group);
    }
  }

  private start(group: Waiting<R, T>[]): void {
    const key = this.opts.key;
    this.inFlight++;
    if (key) for (const w of group) this.busy.add(key(w.request));
    this.run(group.map((w) => w.request)).then(
      (results) => group.forEach((w, i) => settle(w, results[i])),
      (err: unknown) => group.forEach((w) => w.reject(err)),
    ).finally(() => {
      this.inFlight--;
      if (key) for (const w of group) this.busy.delete(key(w.request));
      this.schedule();
    });
  }

  /**
   * The oldest waiting requests that fit; with a key, one per key and none
   * whose key is in flight. A request left behind keeps its place in line,
   * and later ones of its key stay behind it.
   */
  private takeGroup(): Waiting<R, T>[] {
    const key = this.opts.key;
    const group: Waiting<R, T>[] = [];
    const rest: Waiting<R, T>[] = [];
    const taken = new Set<number | string>(this.busy);
    let weight = 0;
    for (const w of this.waiting) {
      const k = key?.(w.request);
      const fits = group.length === 0 || weight + w.weight <= this.opts.maxWeight;
      if (fits && (k === undefined || !taken.has(k))) {
        group.push(w);
        weight += w.weight;
      } else {
        rest.push(w);
      }
      if (k !== undefined) taken.add(k);
    }
    this.waiting = rest;
    return group;
  }
}

function settle<R, T>(w: Waiting<R, T>, result: Settled<T> | undefined): void {
  if (!result) w.reject(new Error('batched statement returned too few results'));
  else if (result.ok) w.resolve(result.value);
  else w.reject(result.error);
}
