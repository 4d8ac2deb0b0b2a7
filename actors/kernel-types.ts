/**
 * Types shared by the actor kernel and the actors built on it. Nothing here
 * touches comedy: callers see only typed `ask`/`tell` on an `ActorRef`.
 */
import { ErrorCode, TertuliaError } from '../protocol/errors.js';

/**
 * A protocol is an interface whose members are one-argument handler
 * signatures, e.g. `{ send(a: SendArgs): SendResult; typing(a: { user: number }): void }`.
 */
export type Topic<P> = keyof P & string;

/** The argument type of topic `K`. */
export type Arg<P, K extends keyof P> = P[K] extends (arg: infer A) => unknown ? A : never;

/** The reply type of topic `K`; a handler may return it directly or as a promise. */
export type Res<P, K extends keyof P> = P[K] extends (arg: never) => infer R ? Awaited<R> : never;

/**
 * A reply whose settlement is decoupled from the mailbox: the handler returns
 * at once (the next message runs) and the ask settles with `promise`. Used for
 * group commit, where many sends wait on one transaction.
 * Deliberately not thenable, or `await` inside the mailbox would unwrap it.
 */
export class Deferred<T> {
  readonly promise: Promise<T>;
  constructor(promise: Promise<T>) {
    // The mailbox attaches its handlers a few microtasks later (after the
    // handler's own promise resolves); an early rejection must not count as
    // unhandled in between.
    promise.catch(() => {});
    this.promise = promise;
  }
}

/** Marks `p` as the eventual reply of the current message and frees the mailbox now. */
export function later<T>(p: Promise<T>): Deferred<T> {
  return new Deferred(p);
}

/** What a handler for a reply of type `T` may return. */
export type Reply<T> = T | Deferred<T> | Promise<T | Deferred<T>>;

/** The handler methods an actor implementing protocol `P` must have. */
export type Handlers<P> = { [K in Topic<P>]: (arg: Arg<P, K>) => Reply<Res<P, K>> };

/**
 * Outcome of one message inside the kernel. Handlers' errors travel as values
 * so comedy never sees a thrown error (it would only log it, or wrap it).
 */
export type Envelope = { ok: true; value: unknown } | { ok: false; error: TertuliaError };

/**
 * The actor was stopped (passivation, handoff) or the kernel is shutting down.
 * Callers that own the actor's lifecycle (the router) catch this class to
 * re-resolve and retry. On the wire it is INTERNAL (retryable) for a single
 * stopped actor and SHUTTING_DOWN during shutdown.
 */
export class ActorStoppedError extends TertuliaError {
  /** The key of the actor that is stopped: a reply may carry another actor's. */
  readonly key: string;
  constructor(key: string, code: number = ErrorCode.INTERNAL) {
    super(code, `actor ${key} is stopped`);
    this.name = 'ActorStoppedError';
    this.key = key;
  }
}

export interface AskOptions {
  /** Overrides the kernel's default ask timeout. */
  timeoutMs?: number;
}

/** Identity of an actor, enough to stop it. */
export interface ActorHandle {
  /** The key the actor was spawned under (channel id, user id, ...). */
  readonly key: string;
  /** Unique per incarnation: a respawned key gets a new id. */
  readonly id: string;
}

/** A typed reference to a serial actor speaking protocol `P`. */
export interface ActorRef<P> extends ActorHandle {
  /**
   * Sends a message and waits for its reply. Rejects with a TertuliaError:
   * the handler's own, BUSY (mailbox full), TIMEOUT, INTERNAL (unexpected
   * fault) or ActorStoppedError.
   */
  ask<K extends Topic<P>>(topic: K, arg: Arg<P, K>, opts?: AskOptions): Promise<Res<P, K>>;
  /** Fire-and-forget: errors are logged, never thrown; dropped when the mailbox is full. */
  tell<K extends Topic<P>>(topic: K, arg: Arg<P, K>): void;
  /** True once stop was requested; every later ask rejects. */
  readonly stopped: boolean;
}
