/**
 * This pod's outgoing peer links: one PeerClient per remote pod, opened on
 * first use. A pod that restarted (new incarnation) or moved gets a fresh link,
 * so nothing in flight on the old one is mistaken for the new pod's answer.
 */
import type { PodInfo } from '../ports.js';
import { PeerClient, type PeerClientOptions } from './client.js';

export interface PeerLinksOptions
  extends Omit<PeerClientOptions, 'remote' | 'address' | 'onPush' | 'onUp' | 'onDown'> {
  onPush?(from: PodInfo, ev: string, payload: Record<string, unknown>): void;
  onUp?(pod: PodInfo): void;
  onDown?(pod: PodInfo, cause: Error | undefined): void;
}

interface Entry {
  pod: PodInfo;
  client: PeerClient;
}

export class PeerLinks {
  private readonly links = new Map<string, Entry>();
  // Links being closed; closeAll waits for them too.
  private readonly retiring = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: PeerLinksOptions) {}

  /** The link to `pod`, created on demand and replaced when its incarnation or address changed. */
  link(pod: PodInfo): PeerClient {
    if (this.closed) throw new Error('peer links are closed');
    const entry = this.links.get(pod.id);
    if (entry && entry.pod.incarnation === pod.incarnation && entry.pod.peer === pod.peer) return entry.client;
    if (entry) {
      this.opts.log.info({ remote: pod.id, from: entry.pod.incarnation, to: pod.incarnation }, 'peer replaced; new link');
      this.retire(entry);
    }
    const { onPush, onUp, onDown, ...common } = this.opts;
    const client = new PeerClient({
      ...common,
      remote: pod.id,
      address: pod.peer,
      onPush: onPush && ((ev, payload) => onPush(pod, ev, payload)),
      onUp: onUp && (() => onUp(pod)),
      onDown: onDown && ((cause) => onDown(pod, cause)),
    });
    this.links.set(pod.id, { pod, client });
    return client;
  }

  /** The current link to a pod id, if one is open. */
  get(podId: string): PeerClient | undefined {
    return this.links.get(podId)?.client;
  }

  /** Pods with an open link. */
  pods(): PodInfo[] {
    return [...this.links.values()].map((e) => e.pod);
  }

  /**
   * Closes links to pods that left, or whose live incarnation differs from the
   * one linked (the next link() opens a fresh one). Their in-flight requests
   * reject with SHUTTING_DOWN.
   */
  retain(live: Iterable<PodInfo>): void {
    const current = new Map<string, PodInfo>();
    for (const p of live) current.set(p.id, p);
    for (const entry of [...this.links.values()]) {
      const now = current.get(entry.pod.id);
      if (now && now.incarnation === entry.pod.incarnation && now.peer === entry.pod.peer) continue;
      this.opts.log.info({ remote: entry.pod.id }, now ? 'peer restarted; link closed' : 'peer left; link closed');
      this.retire(entry);
    }
  }

  /** Closes every link; resolves when all sockets are gone. */
  async closeAll(): Promise<void> {
    this.closed = true;
    for (const entry of [...this.links.values()]) this.retire(entry);
    while (this.retiring.size > 0) await Promise.all([...this.retiring]);
  }

  private retire(entry: Entry): void {
    if (this.links.get(entry.pod.id) === entry) this.links.delete(entry.pod.id);
    const done = entry.client.close().finally(() => this.retiring.delete(done));
    this.retiring.add(done);
  }
}
