/**
 * The typed reference callers hold. It adds what comedy lacks: a timeout on
 * every ask, TertuliaErrors only, and a stopped state checked before comedy.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import type { ComedyChild } from './comedy-system.js';
import type { ActorRef, ActorStoppedError, Arg, AskOptions, Envelope, Res, Topic } from './kernel-types.js';
import { timeoutError } from './mailbox.js';

/** Where in-flight asks are counted, so a test can see none is leaked. */
export interface AskCounter {
  pendingAsks: number;
}

export class KernelRef<P> implements ActorRef<P> {
  private stoppedWith: ActorStoppedError | undefined;

  constructor(
    private readonly counter: AskCounter,
    readonly key: string,
    private readonly child: ComedyChild,
    private readonly askTimeoutMs: number,
    readonly log: Logger,
  ) {}

  get id(): string {
    return this.child.id;
  }

  get stopped(): boolean {
    return this.stoppedWith !== undefined;
  }

  markStopped(reason: ActorStoppedError): void {
    this.stoppedWith ??= reason;
  }

  ask<K extends Topic<P>>(topic: K, arg: Arg<P, K>, opts?: AskOptions): Promise<Res<P, K>> {
    if (this.stoppedWith) return Promise.reject(this.stoppedWith);
    const ms = opts?.timeoutMs ?? this.askTimeoutMs;
    const counter = this.counter;
    counter.pendingAsks++;
    return new Promise<Res<P, K>>((resolve, reject) => {
      let open = true;
      const close = (): boolean => {
        if (!open) return false;
        open = false;
        clearTimeout(timer);
        counter.pendingAsks--;
        return true;
      };
      const timer = setTimeout(() => {
        if (close()) reject(timeoutError(topic));
      }, ms);
      // The deadline travels with the message so the mailbox can skip it if
      // it is still queued when nobody waits any more.
      this.child.ask(topic, arg, performance.now() + ms).then(
        (env: Envelope) => {
          if (!close()) return;
          if (env.ok) resolve(env.value as Res<P, K>);
          else reject(env.error);
        },
        (err: unknown) => {
          if (close()) reject(this.comedyFailure(err));
        },
      );
    });
  }

  tell<K extends Topic<P>>(topic: K, arg: Arg<P, K>): void {
    if (this.stoppedWith) {
      this.log.debug({ topic }, 'tell to stopped actor dropped');
      return;
    }
    this.child.tell(topic, arg).then(undefined, (err: unknown) => {
      this.log.warn({ err: this.comedyFailure(err), topic }, 'tell not delivered');
    });
  }

  /** comedy itself refused (destroyed actor, a bug): never its bare Error upward. */
  private comedyFailure(err: unknown): TertuliaError {
    if (this.stoppedWith) return this.stoppedWith;
    this.log.error({ err }, 'comedy refused a message');
    return new TertuliaError(ErrorCode.INTERNAL, 'actor unavailable', { cause: err });
  }
}
