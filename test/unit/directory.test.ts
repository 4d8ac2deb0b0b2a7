import test from 'ava';
import { pino } from 'pino';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { ActorDirectory } from '../../actors/directory.js';
import { ActorKernel } from '../../actors/kernel.js';
import { ActorStoppedError, later, type Reply } from '../../actors/kernel-types.js';
import { SerialActor } from '../../actors/serial-actor.js';

interface RelayProtocol {
  attach(a: { conn: number }): number[];
  /** Like a user actor forwarding to a channel: the reply is whatever the channel said. */
  forward(a: { error: 'not_owner' | 'other_stopped' }): void;
  conns(a: null): number[];
}

let spawned = 0;

class Relay extends SerialActor<RelayProtocol> {
  private readonly attached: number[] = [];
  constructor() {
    super();
    spawned++;
  }
  attach(a: { conn: number }): number[] {
    this.attached.push(a.conn);
    return this.attached;
  }
  forward(a: { error: 'not_owner' | 'other_stopped' }): Reply<void> {
    const err = a.error === 'not_owner' ? new TertuliaError(ErrorCode.NOT_OWNER, 'channel 7 is moving; retry') : new ActorStoppedError('channel:7');
    return later(Promise.reject(err));
  }
  conns(): number[] {
    return this.attached;
  }
}

async function directory(t: import('ava').ExecutionContext, notOwnerMeansGone?: boolean) {
  const kernel = await ActorKernel.start({ log: pino({ level: 'silent' }), askTimeoutMs: 2000, mailboxCap: 100 });
  t.teardown(() => kernel.shutdown());
  const opts = notOwnerMeansGone === undefined ? { maxActors: 10 } : { maxActors: 10, notOwnerMeansGone };
  return new ActorDirectory<RelayProtocol>('relay', kernel, async () => () => new Relay(), opts, pino({ level: 'silent' }));
}

test.serial('an error an actor passes on (a channel that moved, another actor stopped) reaches the caller, and the actor keeps its state', async (t) => {
  const dir = await directory(t);
  spawned = 0;
  await dir.ask(1, 'attach', { conn: 42 });
  const notOwner = await t.throwsAsync(dir.ask(1, 'forward', { error: 'not_owner' }));
  t.is((notOwner as TertuliaError).code, ErrorCode.NOT_OWNER);
  const stopped = await t.throwsAsync(dir.ask(1, 'forward', { error: 'other_stopped' }));
  t.true(stopped instanceof ActorStoppedError);
  t.deepEqual(await dir.ask(1, 'conns', null), [42], 'the same actor, with its connection, still answers');
  t.is(spawned, 1, 'no fresh actor was started in its place');
});

test.serial('where NOT_OWNER means the actor deactivated (channels), the ask goes to a fresh activation', async (t) => {
  const dir = await directory(t, true);
  spawned = 0;
  await dir.ask(1, 'attach', { conn: 42 });
  await t.throwsAsync(dir.ask(1, 'forward', { error: 'not_owner' }));
  t.is(spawned, 4, 'retried on fresh activations, a bounded number of times');
  t.deepEqual(await dir.ask(1, 'conns', null), [], 'the live actor is a fresh one');
});
