/**
 * Base class of every actor. Handler methods are named by topic and take one
 * argument; the kernel's serial mailbox calls them one at a time.
 */
import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import type { Dispatch } from './mailbox.js';

/** What the kernel tells an actor about itself when it is spawned. */
export interface ActorContext {
  readonly key: string;
  readonly id: string;
  readonly log: Logger;
  /** Schedules this actor's stop; see SerialActor.stopSelf. */
  readonly stop: () => void;
}

// Kept outside the instance so subclasses cannot clobber it by accident.
const contexts = new WeakMap<SerialActor<unknown>, ActorContext>();

export abstract class SerialActor<P> {
  /** Ties the class to its protocol so spawn() can infer P; never set. */
  declare protected readonly protocol?: P;

  /** Runs once before the first message; a throw makes spawn() reject. */
  onStart(): void | Promise<void> {}

  /**
   * Runs once when the actor stops, after the running handler finished (or
   * the stop grace ran out) and before unanswered replies are failed: flush
   * pending work here.
   */
  onStop(): void | Promise<void> {}

  protected get key(): string {
    return this.ctx().key;
  }

  protected get log(): Logger {
    return this.ctx().log;
  }

  /**
   * Asks the kernel to stop this actor (passivation). Returns nothing on
   * purpose: stop waits for the running handler, so a handler awaiting its own
   * stop would wait for itself. The current handler's reply is still delivered.
   */
  protected stopSelf(): void {
    this.ctx().stop();
  }

  private ctx(): ActorContext {
    const c = contexts.get(this);
    if (!c) throw new Error('actor used before the kernel spawned it');
    return c;
  }
}

/** Binds an actor to its kernel context; called once by the kernel. */
export function bindActor(actor: SerialActor<unknown>, ctx: ActorContext): void {
  const prior = contexts.get(actor);
  if (prior) throw new Error(`actor instance already spawned as ${prior.key}`);
  contexts.set(actor, ctx);
}

// Names a message must never reach: the base class's own methods and
// Object.prototype's, so a stray topic cannot call onStop() or toString().
const reserved = new Set<string>([
  ...Object.getOwnPropertyNames(SerialActor.prototype),
  ...Object.getOwnPropertyNames(Object.prototype),
]);

/** The mailbox's view of an actor: look the topic up as a method and call it. */
export function dispatcherFor(actor: SerialActor<unknown>): Dispatch {
  const table = actor as unknown as Record<string, unknown>;
  return (topic, arg) => {
    const fn = reserved.has(topic) ? undefined : table[topic];
    if (typeof fn !== 'function') {
      throw new TertuliaError(ErrorCode.INTERNAL, `actor ${actor.constructor.name} has no handler for ${topic}`);
    }
    return (fn as (a: unknown) => unknown).call(actor, arg);
  };
}
