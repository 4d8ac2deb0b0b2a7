/**
 * A bounded, one-at-a-time mailbox. comedy runs handlers concurrently across
 * `await`, so without this a channel actor's read-modify-write of its state
 * would race. Each message runs to completion (its promise settled) before the
 * next starts; a handler may hand back `later(p)` to release the mailbox early
 * while its reply waits for `p` (group commit).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import { Deferred, type Envelope } from './kernel-types.js';

/** Receives the outcome of one message; absent for tells. */
export type Settle = (e: Envelope) => void;

interface Letter {
  topic: string;
  arg: unknown;
  /** performance.now() after which nobody waits for the reply any more. */
  deadline: number;
  settle: Settle | undefined;
  done: boolean;
}

export interface MailboxOptions {
  /** Messages waiting (not counting the one running) before new ones are refused. */
  cap: number;
  /** Retry hint carried by BUSY. */
  busyRetryMs: number;
  log: Logger;
}

export type Dispatch = (topic: string, arg: unknown) => unknown;

export class SerialMailbox {
  private queue: Letter[] = [];
  private head = 0;
  private pumping = false;
  private running: Letter | undefined;
  private readonly deferred = new Set<Letter>();
  private closedWith: TertuliaError | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly dispatch: Dispatch,
    private readonly opts: MailboxOptions,
  ) {}

  /** Messages waiting to run. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Replies handed out with `later()` and not yet settled. */
  get pendingReplies(): number {
    return this.deferred.size;
  }

  /**
   * Queues a message. Never throws: refusal (full, closed) is reported through
   * `settle` at once, so a full mailbox costs the caller no waiting.
   */
  post(topic: string, arg: unknown, deadline: number, settle: Settle | undefined): void {
    const letter: Letter = { topic, arg, deadline, settle, done: false };
    if (this.closedWith) return this.finish(letter, { ok: false, error: this.closedWith });
    if (this.queued >= this.opts.cap) {
      const error = new TertuliaError(ErrorCode.BUSY, `actor mailbox full (${this.opts.cap})`, {
        retryMs: this.opts.busyRetryMs,
      });
      return this.finish(letter, { ok: false, error });
    }
    this.queue.push(letter);
    if (!this.pumping) void this.pump();
  }

  /**
   * Refuses new messages and fails the queued ones with `error`. The running
   * handler and deferred replies carry on until `abandon()`.
   */
  close(error: TertuliaError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    const waiting = this.queue;
    const from = this.head;
    this.queue = [];
    this.head = 0;
    for (let i = from; i < waiting.length; i++) this.finish(waiting[i]!, { ok: false, error });
  }

  /**
   * Fails whatever is still unanswered (a hung handler, deferred replies) with
   * the close error, so callers and comedy's destroy() (which waits for every
   * handler promise) are never held by a handler that does not return.
   */
  abandon(): void {
    const error = this.closedWith ?? new TertuliaError(ErrorCode.INTERNAL, 'mailbox abandoned');
    this.close(error);
    if (this.running) this.finish(this.running, { ok: false, error });
    for (const l of [...this.deferred]) this.finish(l, { ok: false, error });
  }

  /** Resolves when no handler is running, or after `timeoutMs`; true if idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (!this.pumping) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(wake);
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.head < this.queue.length) {
      const letter = this.take();
      // The caller has already been told TIMEOUT; running the message now
      // would only spend capacity on work nobody waits for.
      if (letter.deadline < performance.now()) {
        this.finish(letter, { ok: false, error: timeoutError(letter.topic) });
        continue;
      }
      this.running = letter;
      try {
        let out = this.dispatch(letter.topic, letter.arg);
        if (isThenable(out)) out = await out;
        if (out instanceof Deferred) this.defer(letter, out.promise);
        else this.finish(letter, { ok: true, value: out });
      } catch (err) {
        this.finish(letter, this.failure(letter.topic, err));
      }
      this.running = undefined;
    }
    this.pumping = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private take(): Letter {
    const letter = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Letter;
    // Compact now and then so a long-lived busy mailbox does not keep a
    // growing array of consumed slots.
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return letter;
  }

  private defer(letter: Letter, p: Promise<unknown>): void {
    this.deferred.add(letter);
    p.then(
      (value) => this.finish(letter, { ok: true, value }),
      (err: unknown) => this.finish(letter, this.failure(letter.topic, err)),
    );
  }

  private failure(topic: string, err: unknown): Envelope {
    if (err instanceof TertuliaError) return { ok: false, error: err };
    this.opts.log.error({ err, topic }, 'actor handler failed');
    return { ok: false, error: new TertuliaError(ErrorCode.INTERNAL, 'internal error', { cause: err }) };
  }

  private finish(letter: Letter, env: Envelope): void {
    if (letter.done) return;
    letter.done = true;
    this.deferred.delete(letter);
    if (letter.settle) return letter.settle(env);
    if (!env.ok && env.error.code !== ErrorCode.INTERNAL) {
      // INTERNAL was logged with its cause in failure(); the rest is a
      // refused or failed tell nobody else will hear about.
      this.opts.log.warn({ topic: letter.topic, code: env.error.codeName, reason: env.error.message }, 'tell failed');
    }
  }
}

export function timeoutError(topic: string): TertuliaError {
  return new TertuliaError(ErrorCode.TIMEOUT, `actor did not answer ${topic} in time`);
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}
