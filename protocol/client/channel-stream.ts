/**
 * Per-channel delivery order. Messages reach the client from three places that
 * overlap and race: live `msg` events, the subscribe replay and history pages.
 * A ChannelStream turns all of them into one sequence in which every seq after
 * the starting point appears exactly once and in order. It is pure logic: it
 * does no I/O and says, through `needsFill`, when history must be paged.
 */
import type { MessageView } from '../messages.js';

/** Default cap on messages held back while waiting for a gap to fill. */
export const DEFAULT_MAX_HELD = 1000;

/** Ordering, dedupe and gap detection for one channel. */
export class ChannelStream {
  private last: number | undefined;
  // Highest seq known to exist (seen in an event or a subscribe reply).
  private known: number;
  private readonly held = new Map<number, MessageView>();

  /**
   * `lastDelivered` is the seq already delivered (resume point); leave it
   * undefined to take the starting point from the subscribe reply's lastSeq.
   */
  constructor(
    readonly channel: number,
    lastDelivered?: number,
    private readonly maxHeld = DEFAULT_MAX_HELD,
  ) {
    this.last = lastDelivered;
    this.known = lastDelivered ?? 0;
  }

  /** Seq of the last delivered message; undefined until the starting point is known. */
  get lastDelivered(): number | undefined {
    return this.last;
  }

  /** Messages held back because an earlier seq is missing. */
  get heldCount(): number {
    return this.held.size;
  }

  /** True when messages are missing before what is known to exist: page `history {after: lastDelivered}`. */
  get needsFill(): boolean {
    return this.last !== undefined && (this.held.size > 0 || this.known > this.last);
  }

  /**
   * Fixes the starting point when it was unknown (everything up to `seq` is
   * treated as already seen) and returns what became deliverable. A known
   * starting point is never moved: that would skip or repeat messages.
   */
  start(seq: number): MessageView[] {
    if (this.last !== undefined) return [];
    this.last = seq;
    this.known = Math.max(this.known, seq);
    for (const s of this.held.keys()) if (s <= seq) this.held.delete(s);
    return this.drain();
  }

  /** Records that messages up to `seq` exist (a subscribe reply's lastSeq). */
  noteExists(seq: number): void {
    if (seq > this.known) this.known = seq;
  }

  /** Offers one message; returns the messages now deliverable, in seq order. */
  offer(m: MessageView): MessageView[] {
    this.hold(m);
    return this.drain();
  }

  /** Offers a batch (a replay or a history page); returns what is now deliverable. */
  offerAll(messages: readonly MessageView[]): MessageView[] {
    // Draining after each one lets a long contiguous page through a small held buffer.
    const out: MessageView[] = [];
    for (const m of messages) {
      this.hold(m);
      out.push(...this.drain());
    }
    return out;
  }

  private hold(m: MessageView): void {
    if (!Number.isSafeInteger(m.seq) || m.seq < 1) return;
    if (m.seq > this.known) this.known = m.seq;
    if (this.last !== undefined && m.seq <= this.last) return; // duplicate
    if (this.held.has(m.seq)) return;
    if (this.held.size >= this.maxHeld) {
      // Keep the oldest: they are delivered first. Whatever is dropped lies
      // above lastDelivered, so `needsFill` stays true and history brings it back.
      const highest = Math.max(...this.held.keys());
      if (m.seq > highest) return;
      this.held.delete(highest);
    }
    this.held.set(m.seq, m);
  }

  private drain(): MessageView[] {
    if (this.last === undefined) return [];
    const out: MessageView[] = [];
    for (let next = this.held.get(this.last + 1); next; next = this.held.get(this.last + 1)) {
      this.held.delete(next.seq);
      this.last = next.seq;
      out.push(next);
    }
    return out;
  }
}
