/**
 * The actor kernel: spawns serial actors on comedy (in-memory mode), places
 * them under bucket parents, and gives callers typed refs whose asks always
 * time out and whose failures are always TertuliaErrors.
 */
import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import { type ComedyChild, ComedySystem } from './comedy-system.js';
import { KernelRef } from './kernel-ref.js';
import { ActorStoppedError, type ActorHandle, type ActorRef, type Envelope, type Handlers } from './kernel-types.js';
import { SerialMailbox } from './mailbox.js';
import { SerialActor, bindActor, dispatcherFor } from './serial-actor.js';

// The kernel's public surface, so actors and callers import from one place.
export { SerialActor } from './serial-actor.js';
export {
  ActorStoppedError,
  Deferred,
  later,
  type ActorHandle,
  type ActorRef,
  type Arg,
  type AskOptions,
  type Handlers,
  type Reply,
  type Res,
  type Topic,
} from './kernel-types.js';

export interface KernelOptions {
  log: Logger;
  /** Default timeout of every ask. */
  askTimeoutMs: number;
  /** Messages one actor may have waiting before asks get BUSY. */
  mailboxCap: number;
  /** Bucket parents under comedy's root; destroying a child is O(siblings). Default 64. */
  buckets?: number;
  /** Live actors before spawn() refuses with BUSY. Default unlimited. */
  maxActors?: number;
  /** Retry hint on BUSY. Default 50 ms. */
  busyRetryMs?: number;
  /** How long stop() waits for a running handler and for onStop(). Default askTimeoutMs. */
  stopGraceMs?: number;
}

interface Entry {
  readonly ref: KernelRef<unknown>;
  readonly actor: SerialActor<unknown>;
  readonly mailbox: SerialMailbox;
  readonly child: ComedyChild;
  stopping?: Promise<void>;
}

export class ActorKernel {
  private readonly actors = new Map<string, Entry>();
  private readonly spawning = new Set<string>();
  private closing: Promise<void> | undefined;
  /** Asks awaiting a reply or their timeout; see stats(). */
  pendingAsks = 0;

  private constructor(
    private readonly comedy: ComedySystem,
    private readonly opts: Required<KernelOptions>,
  ) {}

  static async start(opts: KernelOptions): Promise<ActorKernel> {
    const full: Required<KernelOptions> = {
      buckets: 64,
      maxActors: Number.POSITIVE_INFINITY,
      busyRetryMs: 50,
      stopGraceMs: opts.askTimeoutMs,
      ...opts,
    };
    if (!(full.buckets >= 1 && Number.isInteger(full.buckets))) throw new RangeError('buckets must be a positive integer');
    if (!(full.mailboxCap >= 1)) throw new RangeError('mailboxCap must be at least 1');
    if (!(full.askTimeoutMs > 0)) throw new RangeError('askTimeoutMs must be positive');
    const comedy = await ComedySystem.start(full.log.child({ component: 'comedy' }), full.buckets);
    return new ActorKernel(comedy, full);
  }

  /**
   * Creates the actor for `key`, runs its onStart(), and returns its ref. A
   * key holds at most one live actor: stop the old one before respawning.
   */
  async spawn<P>(key: string, factory: () => SerialActor<P> & Handlers<P>): Promise<ActorRef<P>> {
    if (this.closing) throw new TertuliaError(ErrorCode.SHUTTING_DOWN, 'actor kernel is shutting down');
    if (this.actors.has(key) || this.spawning.has(key)) throw new Error(`actor ${key} already exists`);
    if (this.actors.size + this.spawning.size >= this.opts.maxActors) {
      throw new TertuliaError(ErrorCode.BUSY, `actor limit reached (${this.opts.maxActors})`, {
        retryMs: this.opts.busyRetryMs,
      });
    }
    this.spawning.add(key);
    try {
      return (await this.create(key, factory as () => SerialActor<unknown>)) as unknown as ActorRef<P>;
    } finally {
      this.spawning.delete(key);
    }
  }

  /** The live actor spawned under `key`, if any. The caller vouches for `P`. */
  lookup<P>(key: string): ActorRef<P> | undefined {
    return this.actors.get(key)?.ref as ActorRef<P> | undefined;
  }

  /**
   * Stops an actor: refuses new messages, fails queued ones, lets the running
   * handler finish (within stopGraceMs), runs onStop(), fails whatever is still
   * unanswered and destroys the comedy actor. Idempotent.
   */
  stop(handle: ActorHandle): Promise<void> {
    const entry = this.actors.get(handle.key);
    if (!entry || entry.ref.id !== handle.id) return Promise.resolve();
    entry.stopping ??= this.teardown(entry, new ActorStoppedError(handle.key));
    return entry.stopping;
  }

  /** Stops every actor (failing their asks with SHUTTING_DOWN), then comedy. */
  shutdown(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(
        [...this.actors.values()].map((e) => {
          e.stopping ??= this.teardown(e, new ActorStoppedError(e.ref.key, ErrorCode.SHUTTING_DOWN));
          return e.stopping;
        }),
      );
      await this.comedy.destroy();
    })();
    return this.closing;
  }

  stats(): { actors: number; pendingAsks: number } {
    return { actors: this.actors.size, pendingAsks: this.pendingAsks };
  }

  private async create(key: string, factory: () => SerialActor<unknown>): Promise<KernelRef<unknown>> {
    const actor = factory();
    const log = this.opts.log.child({ actor: key });
    const mailbox = new SerialMailbox(dispatcherFor(actor), {
      cap: this.opts.mailboxCap,
      busyRetryMs: this.opts.busyRetryMs,
      log,
    });
    const child = await this.comedy.spawn(bucketOf(key, this.opts.buckets), key, {
      ask: (topic, arg, deadline) =>
        new Promise<Envelope>((settle) => mailbox.post(topic, arg, deadline, settle)),
      tell: (topic, arg) => mailbox.post(topic, arg, Number.POSITIVE_INFINITY, undefined),
    });
    const ref = new KernelRef<unknown>(this, key, child, this.opts.askTimeoutMs, log);
    const entry: Entry = { ref, actor, mailbox, child };
    bindActor(actor, { key, id: child.id, log, stop: () => void this.stop(ref) });
    try {
      await actor.onStart();
    } catch (err) {
      mailbox.abandon();
      await child.destroy();
      throw err instanceof TertuliaError
        ? err
        : new TertuliaError(ErrorCode.INTERNAL, `actor ${key} failed to start`, { cause: err });
    }
    if (this.closing) {
      // shutdown() began while onStart ran and did not see this actor.
      await this.teardown(entry, new ActorStoppedError(key, ErrorCode.SHUTTING_DOWN));
      throw new TertuliaError(ErrorCode.SHUTTING_DOWN, 'actor kernel is shutting down');
    }
    this.actors.set(key, entry);
    return ref;
  }

  private async teardown(entry: Entry, reason: ActorStoppedError): Promise<void> {
    const { ref, mailbox, actor, child } = entry;
    ref.markStopped(reason);
    mailbox.close(reason);
    const grace = this.opts.stopGraceMs;
    if (!(await mailbox.idle(grace))) {
      ref.log.warn({ graceMs: grace }, 'handler still running at stop; abandoning its reply');
    }
    try {
      await withTimeout(Promise.resolve(actor.onStop()), grace);
    } catch (err) {
      ref.log.error({ err }, 'onStop failed');
    }
    // After this, comedy has no handler promise outstanding, so destroy() returns.
    mailbox.abandon();
    try {
      await child.destroy();
    } catch (err) {
      ref.log.error({ err }, 'comedy destroy failed');
    }
    if (this.actors.get(ref.key) === entry) this.actors.delete(ref.key);
  }
}

/** FNV-1a over UTF-16 units: stable across processes and releases. */
export function bucketOf(key: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}
