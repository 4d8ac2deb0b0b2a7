import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { AttachmentView } from '../../protocol/messages.js';
import { StoreError, type AppendOutcome, type NewMessage, type Store, type WriteMetrics } from '../../runtime/ports.js';

interface Settle<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

type Job =
  | ({ kind: 'append'; msg: NewMessage; senderName: string; at: number; files?: Promise<AttachmentView[]> } & Settle<AppendOutcome>)
  | ({ kind: 'edit'; seq: number; body: string } & Settle<number>)
  | ({ kind: 'delete'; seq: number } & Settle<void>);

/** A message committed by this writer, in seq order. */
export interface Committed {
  msg: NewMessage;
  senderName: string;
  outcome: AppendOutcome;
}

export interface WriterHooks {
  committed(batch: Committed[]): void;
  edited(seq: number, body: string, at: number): void;
  deleted(seq: number): void;
  /** The epoch moved on: another activation owns the channel now. */
  fenced(): void;
}

/**
 * The channel's single write pipeline (group commit): everything that arrives
 * while a commit is in flight goes into the next transaction. Edits and deletes
 * share the queue so they apply in arrival order relative to sends.
 */
export class ChannelWriter {
  private queue: Job[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private dead: TertuliaError | null = null;

  constructor(
    private readonly store: Store,
    private readonly channelId: number,
    private readonly epoch: () => number,
    private readonly opts: { batchMax: number; cap: number },
    private readonly hooks: WriterHooks,
    private readonly metrics: WriteMetrics,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  /**
   * Queues a message. `files` resolves to its attachments (looked up by the
   * caller, in parallel with earlier commits); if it rejects, so does this
   * send, and the messages around it commit as usual, in order.
   */
  append(msg: NewMessage, senderName: string, files?: Promise<AttachmentView[]>): Promise<AppendOutcome> {
    // Awaited in the pump; until then a rejection must not count as unhandled.
    files?.catch(() => {});
    return this.enqueue<AppendOutcome>((s) => ({ kind: 'append', msg, senderName, at: performance.now(), ...(files ? { files } : {}), ...s }));
  }

  edit(seq: number, body: string): Promise<number> {
    return this.enqueue<number>((s) => ({ kind: 'edit', seq, body, ...s }));
  }

  remove(seq: number): Promise<void> {
    return this.enqueue<void>((s) => ({ kind: 'delete', seq, ...s }));
  }

  /** Resolves when nothing is queued or in flight. */
  drained(): Promise<void> {
    return this.running ? this.idle : Promise.resolve();
  }

  /** Refuses everything queued and every later write. */
  close(err: TertuliaError): void {
    this.dead = err;
    const q = this.queue;
    this.queue = [];
    for (const j of q) j.reject(err);
  }

  private enqueue<T>(make: (s: Settle<T>) => Job): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.queue.length >= this.opts.cap) {
      this.metrics.writeRefused('busy');
      return Promise.reject(
        new TertuliaError(ErrorCode.BUSY, 'channel write queue is full', { retryMs: 50 + Math.floor(Math.random() * 50) }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push(make({ resolve, reject } as Settle<T>) );
      if (!this.running) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.running = true;
    this.idle = new Promise((r) => (this.markIdle = r));
    try {
      while (this.queue.length > 0 && !this.dead) {
        const head = this.queue[0]!;
        if (head.kind === 'append') {
          let n = 1;
          while (n < this.queue.length && n < this.opts.batchMax && this.queue[n]!.kind === 'append') n++;
          const batch = this.queue.splice(0, n) as Extract<Job, { kind: 'append' }>[];
          await this.commitAppends(batch);
        } else {
          this.queue.shift();
          await this.commitOne(head);
        }
      }
    } finally {
      this.running = false;
      this.markIdle();
    }
  }

  private async commitAppends(all: Extract<Job, { kind: 'append' }>[]): Promise<void> {
    const batch = await withFiles(all);
    if (batch.length === 0) return;
    let outcomes: AppendOutcome[];
    try {
      outcomes = await this.store.append(this.channelId, this.epoch(), batch.map((j) => j.msg));
    } catch (err) {
      const e = this.translate(err);
      for (const j of batch) j.reject(e);
      return;
    }
    const now = performance.now();
    this.metrics.committedBatch(batch.length, batch.map((j) => now - j.at));
    const fresh: Committed[] = [];
    for (let i = 0; i < batch.length; i++) {
      const o = outcomes[i]!;
      const j = batch[i]!;
      // The first of a repeated cmid within one batch is the one stored.
      if (!o.duplicate && !fresh.some((c) => c.outcome.seq === o.seq)) {
        fresh.push({ msg: j.msg, senderName: j.senderName, outcome: o });
      }
    }
    fresh.sort((a, b) => a.outcome.seq - b.outcome.seq);
    if (fresh.length) this.hooks.committed(fresh);
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(outcomes[i]!);
  }

  private async commitOne(job: Exclude<Job, { kind: 'append' }>): Promise<void> {
    try {
      if (job.kind === 'edit') {
        const at = await this.store.editMessage(this.channelId, this.epoch(), job.seq, job.body);
        this.hooks.edited(job.seq, job.body, at);
        job.resolve(at);
      } else {
        await this.store.deleteMessage(this.channelId, this.epoch(), job.seq);
        this.hooks.deleted(job.seq);
        job.resolve();
      }
    } catch (err) {
      job.reject(this.translate(err));
    }
  }

  private translate(err: unknown): unknown {
    if (err instanceof StoreError) {
      if (err.kind === 'fenced') {
        this.metrics.writeRefused('fenced');
        const e = new TertuliaError(ErrorCode.NOT_OWNER, 'channel ownership moved; retry', { cause: err });
        this.close(e);
        this.hooks.fenced();
        return e;
      }
      if (err.kind === 'not_found') return new TertuliaError(ErrorCode.NO_SUCH_MESSAGE, 'no such message');
      if (err.kind === 'unavailable') {
        return new TertuliaError(ErrorCode.BUSY, 'database unavailable', { cause: err, retryMs: 500 });
      }
    }
    this.metrics.writeRefused('error');
    return err;
  }
}

/** The batch with each message's attachments filled in; a send whose lookup failed is refused and left out. */
async function withFiles(batch: Extract<Job, { kind: 'append' }>[]): Promise<Extract<Job, { kind: 'append' }>[]> {
  if (!batch.some((j) => j.files)) return batch;
  const ready: Extract<Job, { kind: 'append' }>[] = [];
  for (const j of batch) {
    if (!j.files) {
      ready.push(j);
      continue;
    }
    try {
      j.msg.attachments = await j.files;
      ready.push(j);
    } catch (err) {
      j.reject(err);
    }
  }
  return ready;
}
