import type { MessageView } from '../../protocol/messages.js';

/**
 * The most recent messages of a channel, contiguous by seq, so that resumes,
 * recent history and edits are served without a database read.
 */
export class HistoryRing {
  private items: MessageView[] = [];

  constructor(private readonly capacity: number) {}

  /** Replaces the content with messages loaded from the store (ascending, contiguous). */
  load(messages: MessageView[]): void {
    this.items = messages.slice(-this.capacity);
  }

  push(m: MessageView): void {
    if (this.capacity === 0) return;
    const last = this.items[this.items.length - 1];
    // A hole would make range answers wrong: start over from this message.
    if (last && m.seq !== last.seq + 1) this.items = [];
    this.items.push(m);
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
  }

  get firstSeq(): number {
    return this.items[0]?.seq ?? Infinity;
  }

  get(seq: number): MessageView | undefined {
    const first = this.items[0];
    if (!first) return undefined;
    return this.items[seq - first.seq];
  }

  /** Messages with after < seq <= upTo, oldest first, at most `limit`; null when the ring does not cover them. */
  after(after: number, upTo: number, limit: number): MessageView[] | null {
    if (after >= upTo) return [];
    if (after + 1 < this.firstSeq) return null;
    const first = this.items[0]!;
    const from = after + 1 - first.seq;
    const to = Math.min(upTo - first.seq + 1, from + limit);
    return this.items.slice(from, to);
  }

  /** The newest `limit` messages with seq < before, oldest first; null when not covered. */
  before(before: number, limit: number): MessageView[] | null {
    const first = this.items[0];
    if (!first) return null;
    const end = Math.min(before - first.seq, this.items.length);
    const start = end - limit;
    if (start < 0 && first.seq > 1) return null;
    return this.items.slice(Math.max(0, start), Math.max(0, end));
  }
}
