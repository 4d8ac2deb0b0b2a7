import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import { ActorStoppedError, type ActorKernel, type ActorRef, type Handlers, type SerialActor, type Topic } from './kernel.js';

import type { Arg, Res } from './kernel.js';

/** Makes the actor for a key, or throws a TertuliaError when the key names nothing. */
export type ActorMaker<P> = (key: number, stopped: () => void) => Promise<() => SerialActor<P> & Handlers<P>>;

/**
 * Keeps at most one live actor per key in this pod, activating on first use.
 * Concurrent first requests share one activation; an actor that stops (idle,
 * or fenced) is forgotten and the next request activates a fresh one.
 */
export class ActorDirectory<P> {
  private readonly active = new Map<number, Promise<ActorRef<P>>>();
  private readonly resolved = new Map<number, ActorRef<P>>();
  // A key's old actor must be fully gone before the kernel accepts a new one.
  private readonly stopping = new Map<number, Promise<void>>();

  constructor(
    private readonly kind: string,
    private readonly kernel: ActorKernel,
    private readonly make: ActorMaker<P>,
    /**
     * `notOwnerMeansGone`: a NOT_OWNER reply means the actor itself has
     * deactivated (channel actors) and the ask goes to a fresh activation.
     * Otherwise NOT_OWNER is the reply of something the actor asked (a user
     * actor forwarding to a channel) and goes back to the caller unchanged.
     */
    private readonly opts: { maxActors: number; notOwnerMeansGone?: boolean },
    private readonly log: Logger,
  ) {}

  get activeCount(): number {
    return this.active.size;
  }

  has(key: number): boolean {
    return this.active.has(key);
  }

  /** Asks the key's actor; retried on a fresh activation when it was stopping at that instant. */
  ask<K extends Topic<P>>(key: number, topic: K, arg: Arg<P, K>): Promise<Res<P, K>> {
    // The common case, a live actor, without an async frame: every request
    // passes here twice (user, then channel), so its garbage counts.
    const live = this.resolved.get(key);
    if (!live) return this.askSlow(key, topic, arg, 0);
    return (live.ask(topic, arg as never) as Promise<Res<P, K>>).then(undefined, (err: unknown) => this.retry(err, key, topic, arg, live, 0));
  }

  private async askSlow<K extends Topic<P>>(key: number, topic: K, arg: Arg<P, K>, attempt: number): Promise<Res<P, K>> {
    const live = await this.ref(key);
    try {
      return (await live.ask(topic, arg as never)) as Res<P, K>;
    } catch (err) {
      return this.retry(err, key, topic, arg, live, attempt);
    }
  }

  private retry<K extends Topic<P>>(err: unknown, key: number, topic: K, arg: Arg<P, K>, live: ActorRef<P>, attempt: number): Promise<Res<P, K>> {
    if (!this.isGone(err, live) || attempt >= 3) return Promise.reject(err);
    this.forget(key, live);
    return this.askSlow(key, topic, arg, attempt + 1);
  }

  private ref(key: number): Promise<ActorRef<P>> {
    const cur = this.active.get(key);
    if (cur) return cur;
    if (this.active.size >= this.opts.maxActors) {
      return Promise.reject(new TertuliaError(ErrorCode.BUSY, `too many active ${this.kind} actors`, { retryMs: 1000 }));
    }
    const p = this.activate(key);
    this.active.set(key, p);
    p.catch(() => {
      if (this.active.get(key) === p) this.active.delete(key);
    });
    return p;
  }

  private async activate(key: number): Promise<ActorRef<P>> {
    await this.stopping.get(key);
    let ref: ActorRef<P> | null = null;
    const factory = await this.make(key, () => {
      if (ref) this.forget(key, ref);
    });
    ref = await this.kernel.spawn<P>(`${this.kind}:${key}`, factory);
    this.resolved.set(key, ref);
    return ref;
  }

  private forget(key: number, ref: ActorRef<P>): void {
    if (this.resolved.get(key) !== ref) return;
    this.resolved.delete(key);
    this.active.delete(key);
    const done = this.kernel
      .stop(ref)
      .catch((err) => this.log.debug({ err, key, kind: this.kind }, 'stop after deactivation'))
      .finally(() => {
        if (this.stopping.get(key) === done) this.stopping.delete(key);
      });
    this.stopping.set(key, done);
  }

  /**
   * The asked actor itself is gone, so the ask may go to a fresh one. An
   * error the actor merely passes on (another actor stopped, a channel that
   * moved) must not retire a live actor: its state (a user's connections)
   * would be lost and the retry would run without it.
   */
  private isGone(err: unknown, live: ActorRef<P>): boolean {
    if (err instanceof ActorStoppedError) return err.key === live.key;
    return this.opts.notOwnerMeansGone === true && err instanceof TertuliaError && err.code === ErrorCode.NOT_OWNER;
  }

  /** Keys with a live actor. */
  keys(): number[] {
    return [...this.resolved.keys()];
  }

  /** Stops one key's actor (handoff); resolves once it is gone. */
  async stopKey(key: number): Promise<void> {
    const ref = this.resolved.get(key);
    if (!ref) return;
    this.forget(key, ref);
    await this.stopping.get(key);
  }

  /** Tells every live actor the same thing (fire-and-forget). */
  tellAll<K extends Topic<P>>(topic: K, arg: Arg<P, K>): void {
    for (const ref of this.resolved.values()) ref.tell(topic, arg);
  }

  /** Stops every actor, letting in-flight work finish. */
  async stopAll(): Promise<void> {
    const refs = await Promise.allSettled([...this.active.values()]);
    this.active.clear();
    this.resolved.clear();
    await Promise.allSettled(refs.flatMap((r) => (r.status === 'fulfilled' ? [this.kernel.stop(r.value)] : [])));
  }
}
