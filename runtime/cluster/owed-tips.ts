/**
 * Deliveries to other pods are pushes, at most once: a push to a pod whose
 * link is congested or down is dropped. A client notices a lost message only
 * when a later one arrives, so losing the last messages of a burst would go
 * unnoticed until the channel's next message. The owner therefore remembers,
 * per pod and channel, the highest seq it failed to deliver (0 for a lost
 * "moved" notice) and keeps pushing a small `tip` until one gets through; the
 * pod follows the channel again if it is behind the tip.
 */

export type TipPush = (pod: string, payload: { channel: number; seq: number }) => boolean;

export interface OwedTipsOptions {
  retryMs: number;
  /** Entries kept at most; past it new ones are not recorded (clients still fill gaps they see). */
  max: number;
}

export class OwedTips {
  private readonly owed = new Map<string, Map<number, number>>();
  private size = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly push: TipPush,
    private readonly opts: OwedTipsOptions,
  ) {}

  /** Entries waiting to be delivered. */
  get pending(): number {
    return this.size;
  }

  /** A delivery to `pod` up to `seq` on `channel` was dropped (`seq` 0: a moved notice). */
  note(pod: string, channel: number, seq: number): void {
    if (this.stopped) return;
    let byChannel = this.owed.get(pod);
    if (!byChannel) this.owed.set(pod, (byChannel = new Map()));
    const had = byChannel.get(channel);
    if (had === undefined) {
      if (this.size >= this.opts.max) return;
      this.size++;
      byChannel.set(channel, seq);
    } else if (had !== 0 && (seq === 0 || seq > had)) {
      // A moved notice outranks a seq: the pod must look the owner up again.
      byChannel.set(channel, seq);
    }
    this.schedule();
  }

  /** The pods left the cluster: nothing is owed to them any more. */
  forget(pods: Iterable<string>): void {
    for (const pod of pods) {
      const byChannel = this.owed.get(pod);
      if (!byChannel) continue;
      this.size -= byChannel.size;
      this.owed.delete(pod);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Pushes every owed tip once; what still cannot go stays for the next round. */
  flush(): void {
    for (const [pod, byChannel] of this.owed) {
      for (const [channel, seq] of byChannel) {
        if (!this.push(pod, { channel, seq })) break; // the pod is still unreachable: try it next round
        byChannel.delete(channel);
        this.size--;
      }
      if (byChannel.size === 0) this.owed.delete(pod);
    }
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
      if (this.size > 0) this.schedule();
    }, this.opts.retryMs);
    this.timer.unref();
  }
}
