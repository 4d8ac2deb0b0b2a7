/**
 * Writes history segments for the channels active in this pod, off the ack
 * path: every `every` messages or `everyMs` after the last segment when
 * anything changed, a few channels at a time, retried with backoff.
 *
 * Each channel's count is drawn anew after every segment, between `every`
 * and half as much again: channels that started together (a pod's start, a
 * failover, a busy hour's uniform traffic) would otherwise all write their
 * segments in the same second, and a pod busy with traffic feels that burst
 * as a stall of its acks.
 */
import type { Logger } from 'pino';
import type { BlobStore, SnapshotLog, SnapshotSink } from '../ports.js';
import { writeSegment } from './write-segment.js';

export interface SnapshotterOptions {
  every: number;
  everyMs: number;
  /** Messages per segment at most. */
  maxMessages: number;
  /** Channels written at once, pod-wide. */
  concurrency: number;
}

interface ChannelState {
  epoch: number;
  lastSeq: number;
  /** Last seq covered by segments; null until read from the store. */
  covered: number | null;
  dirty: boolean;
  lastWrite: number;
  running: boolean;
  failures: number;
  retryAt: number;
  closing: boolean;
  /** Messages past `covered` that start the next segment. */
  due: number;
}

export class Snapshotter implements SnapshotSink {
  private readonly channels = new Map<number, ChannelState>();
  private readonly timer: NodeJS.Timeout;
  private running = 0;
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly log: SnapshotLog,
    private readonly blobs: BlobStore,
    private readonly opts: SnapshotterOptions,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.min(1000, Math.floor(opts.everyMs / 4))));
    this.timer.unref();
  }

  /** Messages committed but not yet in any segment, over the channels active here. */
  get lag(): number {
    let n = 0;
    for (const s of this.channels.values()) if (s.covered !== null) n += Math.max(0, s.lastSeq - s.covered);
    return n;
  }

  committed(channelId: number, epoch: number, lastSeq: number): void {
    const s = this.state(channelId, epoch);
    s.lastSeq = Math.max(s.lastSeq, lastSeq);
    if (s.covered !== null && s.lastSeq - s.covered >= s.due) this.start(channelId, s);
  }

  changed(channelId: number, epoch: number): void {
    this.state(channelId, epoch).dirty = true;
  }

  closed(channelId: number): void {
    const s = this.channels.get(channelId);
    if (!s) return;
    s.closing = true;
    if (this.pending(s)) this.start(channelId, s);
    else if (!s.running) this.channels.delete(channelId);
  }

  /** Stops scheduling and waits for segments being written. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.inflight]);
  }

  private state(channelId: number, epoch: number): ChannelState {
    let s = this.channels.get(channelId);
    if (!s) {
      s = { epoch, lastSeq: 0, covered: null, dirty: false, lastWrite: Date.now(), running: false, failures: 0, retryAt: 0, closing: false, due: this.drawDue() };
      this.channels.set(channelId, s);
      const st = s;
      this.log.lastSnapshot(channelId).then(
        (last) => (st.covered ??= last?.toSeq ?? 0),
        () => {},
      );
    }
    s.epoch = epoch;
    s.closing = false;
    return s;
  }

  /** Between `every` and 1.5 × `every` messages. */
  private drawDue(): number {
    return this.opts.every + Math.floor((Math.random() * this.opts.every) / 2);
  }

  private pending(s: ChannelState): boolean {
    return s.dirty || (s.covered !== null && s.lastSeq > s.covered);
  }

  private tick(): void {
    const now = Date.now();
    for (const [id, s] of this.channels) {
      if (s.running || now < s.retryAt || !this.pending(s)) continue;
      if (s.closing || now - s.lastWrite >= this.opts.everyMs || (s.covered !== null && s.lastSeq - s.covered >= s.due)) {
        this.start(id, s);
      }
    }
  }

  private start(channelId: number, s: ChannelState): void {
    if (this.stopped || s.running || this.running >= this.opts.concurrency || Date.now() < s.retryAt) return;
    s.running = true;
    this.running++;
    const p = this.write(channelId, s).finally(() => {
      s.running = false;
      this.running--;
      this.inflight.delete(p);
      if (s.closing && !this.pending(s)) this.channels.delete(channelId);
    });
    this.inflight.add(p);
  }

  private async write(channelId: number, s: ChannelState): Promise<void> {
    try {
      s.dirty = false;
      for (;;) {
        const r = await writeSegment(this.log, this.blobs, channelId, s.epoch, this.opts.maxMessages);
        s.covered = Math.max(s.covered ?? 0, r.to);
        if (r.written) s.lastWrite = Date.now();
        if (r.messages < this.opts.maxMessages || this.stopped) break;
      }
      s.failures = 0;
      s.due = this.drawDue();
    } catch (err) {
      s.dirty = true;
      s.failures++;
      // Backoff with jitter up to a minute; the lag metric shows the backlog meanwhile.
      s.retryAt = Date.now() + Math.random() * Math.min(60_000, 500 * 2 ** s.failures);
      this.logger.warn({ channel: channelId, failures: s.failures, err: (err as Error).message }, 'snapshot failed; will retry');
    }
  }
}
