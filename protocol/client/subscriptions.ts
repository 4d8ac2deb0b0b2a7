/**
 * The client's subscribed channels: subscribe, resume after a reconnect, and
 * paging history to fill gaps. Each channel has a ChannelStream that decides
 * what may be delivered; this file does the requests the streams ask for.
 */
import { RETRYABLE, TertuliaError } from '../errors.js';
import type { MessageView, Op, Requests, Results } from '../messages.js';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';
import { ChannelStream } from './channel-stream.js';
import { ConnectionLostError } from './connection.js';

/** What the subscriptions need from the client. */
export interface SubscriptionHost {
  /** A request on the current connection; rejects with ConnectionLostError when there is none. */
  request<K extends Op>(op: K, args: Requests[K]): Promise<Results[K]>;
  /** Hands one message to the application, already in order and deduplicated. */
  deliver(message: MessageView): void;
  /** A subscription ended on its own (kicked, channel gone, token rejected on resume). */
  dropped(channel: number, error: TertuliaError): void;
  /** Largest history page the server serves. */
  historyPage(): number;
  /** Aborts every wait when the client closes. */
  readonly signal: AbortSignal;
}

// Resubscribing hundreds of channels at once would hit the pending-request cap.
const RESUBSCRIBE_CONCURRENCY = 16;

/** Subscribed channels with their delivery state. */
export class Subscriptions {
  private readonly streams = new Map<number, ChannelStream>();
  // Channels whose subscribe reply has not been applied: a gap seen now is not yet real.
  private readonly awaitingReply = new Set<number>();
  private readonly fills = new Map<number, Promise<void>>();

  constructor(
    private readonly host: SubscriptionHost,
    private readonly retry: BackoffOptions,
    private readonly maxHeld?: number,
  ) {}

  /** Channels currently subscribed. */
  channels(): number[] {
    return [...this.streams.keys()];
  }

  /** Last seq delivered on a subscribed channel, or undefined. */
  lastDelivered(channel: number): number | undefined {
    return this.streams.get(channel)?.lastDelivered;
  }

  /**
   * Subscribes and resolves, with the last delivered seq, once the replay and
   * any history pages are delivered. Rejects (and records nothing) when the
   * subscribe request fails. Subscribing again to a subscribed channel only
   * waits for its catch-up.
   */
  async subscribe(channel: number, after: number | undefined, send: (args: Requests['subscribe']) => Promise<Results['subscribe']>): Promise<number> {
    const existing = this.streams.get(channel);
    if (existing) {
      await this.fills.get(channel);
      return existing.lastDelivered ?? 0;
    }
    const stream = new ChannelStream(channel, after, this.maxHeld);
    this.streams.set(channel, stream);
    this.awaitingReply.add(channel);
    let reply: Results['subscribe'];
    try {
      reply = await send(after === undefined ? { channel } : { channel, after });
    } catch (err) {
      if (this.streams.get(channel) === stream) this.forget(channel);
      throw err;
    }
    if (this.streams.get(channel) !== stream) return stream.lastDelivered ?? 0; // unsubscribed meanwhile
    this.applyReply(stream, reply);
    await this.fill(stream);
    return stream.lastDelivered ?? 0;
  }

  /** Forgets a channel locally; the caller tells the server. */
  forget(channel: number): void {
    this.streams.delete(channel);
    this.awaitingReply.delete(channel);
  }

  /** Forgets every channel. */
  clear(): void {
    this.streams.clear();
    this.awaitingReply.clear();
  }

  /** A live `msg` event. */
  onMessage(m: MessageView): void {
    const stream = this.streams.get(m.channel);
    if (!stream) return; // a late event for a channel we left
    this.emit(stream, stream.offer(m));
    if (stream.needsFill && !this.awaitingReply.has(m.channel)) void this.fill(stream);
  }

  /** After a reconnect: subscribe every channel again from its last delivered seq (resume). */
  async resubscribeAll(): Promise<void> {
    const queue = [...this.streams.values()];
    for (const s of queue) this.awaitingReply.add(s.channel);
    const worker = async (): Promise<void> => {
      for (let s = queue.shift(); s; s = queue.shift()) await this.resubscribe(s);
    };
    await Promise.all(Array.from({ length: Math.min(RESUBSCRIBE_CONCURRENCY, queue.length) }, worker));
  }

  private async resubscribe(stream: ChannelStream): Promise<void> {
    const backoff = new Backoff(this.retry);
    const channel = stream.channel;
    while (this.streams.get(channel) === stream && !this.host.signal.aborted) {
      const after = stream.lastDelivered;
      try {
        const reply = await this.host.request('subscribe', after === undefined ? { channel } : { channel, after });
        if (this.streams.get(channel) !== stream) return;
        this.applyReply(stream, reply);
        await this.fill(stream);
        return;
      } catch (err) {
        if (!(await this.afterFailure(stream, err, backoff))) return;
      }
    }
  }

  private applyReply(stream: ChannelStream, reply: Results['subscribe']): void {
    this.awaitingReply.delete(stream.channel);
    this.emit(stream, stream.start(reply.lastSeq));
    stream.noteExists(reply.lastSeq);
    this.emit(stream, stream.offerAll(reply.messages));
  }

  /** Pages `history {after}` until the stream has no gap; one loop per channel at a time. */
  private fill(stream: ChannelStream): Promise<void> {
    const running = this.fills.get(stream.channel);
    if (running) return running;
    const run = this.fillLoop(stream).finally(() => {
      if (this.fills.get(stream.channel) === run) this.fills.delete(stream.channel);
    });
    this.fills.set(stream.channel, run);
    return run;
  }

  private async fillLoop(stream: ChannelStream): Promise<void> {
    const backoff = new Backoff(this.retry);
    const channel = stream.channel;
    while (stream.needsFill && this.streams.get(channel) === stream && !this.host.signal.aborted) {
      const after = stream.lastDelivered ?? 0;
      try {
        const page = await this.host.request('history', { channel, after, limit: this.host.historyPage() });
        if (this.streams.get(channel) !== stream) return;
        this.emit(stream, stream.offerAll(page.messages));
        // No progress although messages are known to exist: a lagging read
        // replica, most likely. Wait and ask again rather than skip a seq.
        if (stream.lastDelivered === after) await sleep(backoff.next(), this.host.signal);
        else backoff.reset();
      } catch (err) {
        if (!(await this.afterFailure(stream, err, backoff))) return;
      }
    }
  }

  /** Decides whether a failed subscribe/history is worth another try; waits if so. */
  private async afterFailure(stream: ChannelStream, err: unknown, backoff: Backoff): Promise<boolean> {
    // A lost connection ends this attempt; the reconnect resubscribes from lastDelivered.
    if (err instanceof ConnectionLostError || this.host.signal.aborted) return false;
    if (err instanceof TertuliaError && !RETRYABLE.has(err.code)) {
      if (this.streams.get(stream.channel) === stream) {
        this.forget(stream.channel);
        this.host.dropped(stream.channel, err);
      }
      return false;
    }
    const hint = err instanceof TertuliaError ? err.retryMs : undefined;
    await sleep(Math.max(hint ?? 0, backoff.next()), this.host.signal);
    return true;
  }

  private emit(stream: ChannelStream, messages: MessageView[]): void {
    for (const m of messages) {
      if (this.streams.get(stream.channel) !== stream) return;
      this.host.deliver(m);
    }
  }
}
