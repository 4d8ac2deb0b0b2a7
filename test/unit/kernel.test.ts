import test, { type ExecutionContext } from 'ava';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { ActorKernel, type KernelOptions } from '../../actors/kernel.js';
import { ActorStoppedError, later, type Reply } from '../../actors/kernel-types.js';
import { SerialActor } from '../../actors/serial-actor.js';

interface CounterProtocol {
  inc(a: { n: number; delayMs: number }): number;
  get(a: null): number;
  block(a: Promise<void>): void;
  commit(a: Promise<string>): string;
  fail(a: { tertulia: boolean; sync?: boolean }): void;
  hang(a: null): void;
  quit(a: null): string;
}

class Counter extends SerialActor<CounterProtocol> {
  value = 0;
  order: number[] = [];
  ran: string[] = [];
  stoppedCalls = 0;

  async inc(a: { n: number; delayMs: number }): Promise<number> {
    this.ran.push(`inc${a.n}`);
    const v = this.value;
    await sleep(a.delayMs);
    this.order.push(a.n);
    this.value = v + 1;
    return this.value;
  }
  get(): number {
    return this.value;
  }
  async block(gate: Promise<void>): Promise<void> {
    this.ran.push('block');
    await gate;
  }
  commit(p: Promise<string>): Reply<string> {
    return later(p);
  }
  fail(a: { tertulia: boolean; sync?: boolean }): Promise<void> {
    const err = a.tertulia ? new TertuliaError(ErrorCode.FORBIDDEN, 'not yours') : new RangeError('boom');
    if (a.sync) throw err;
    return Promise.reject(err);
  }
  hang(): Promise<void> {
    return new Promise(() => {});
  }
  quit(): string {
    this.stopSelf();
    return 'bye';
  }
  override onStop(): void {
    this.stoppedCalls++;
  }
}

function logSink(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

async function kernel(t: ExecutionContext, opts: Partial<KernelOptions> = {}): Promise<ActorKernel> {
  const k = await ActorKernel.start({ log: pino({ level: 'silent' }), askTimeoutMs: 2000, mailboxCap: 1000, ...opts });
  t.teardown(() => k.shutdown());
  return k;
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

test('handlers run one at a time, in arrival order, across awaits', async (t) => {
  const k = await kernel(t);
  let actor!: Counter;
  const ref = await k.spawn('c', () => (actor = new Counter()));
  const replies = await Promise.all(
    Array.from({ length: 100 }, (_, n) => ref.ask('inc', { n, delayMs: (n * 7) % 5 })),
  );
  t.is(actor.value, 100);
  t.deepEqual(actor.order, Array.from({ length: 100 }, (_, n) => n));
  t.deepEqual(replies, Array.from({ length: 100 }, (_, n) => n + 1));
});

test('later() frees the mailbox while the reply waits', async (t) => {
  const k = await kernel(t);
  const ref = await k.spawn('c', () => new Counter());
  let commitDone!: (v: string) => void;
  const committed = ref.ask('commit', new Promise<string>((r) => (commitDone = r)));
  let settled = false;
  void committed.finally(() => (settled = true));
  t.is(await ref.ask('inc', { n: 0, delayMs: 1 }), 1, 'next message ran while the reply was pending');
  t.false(settled);
  commitDone('seq-7');
  t.is(await committed, 'seq-7');
  const failed = ref.ask('commit', Promise.reject(new TertuliaError(ErrorCode.BUSY, 'batch full')));
  await t.throwsAsync(failed, { instanceOf: TertuliaError, message: 'batch full' });
});

test('a full mailbox refuses at once with BUSY and never queues', async (t) => {
  const k = await kernel(t, { mailboxCap: 5 });
  let actor!: Counter;
  const ref = await k.spawn('c', () => (actor = new Counter()));
  const g = gate();
  const blocked = ref.ask('block', g.promise);
  const queued = Array.from({ length: 5 }, (_, n) => ref.ask('inc', { n, delayMs: 0 }));
  const err = await t.throwsAsync(ref.ask('inc', { n: 99, delayMs: 0 }), { instanceOf: TertuliaError });
  t.is(err?.code, ErrorCode.BUSY);
  t.true((err?.retryMs ?? 0) > 0);
  g.open();
  await blocked;
  t.deepEqual(await Promise.all(queued), [1, 2, 3, 4, 5]);
  t.false(actor.ran.includes('inc99'));
});

test('handler errors: TertuliaError passes through, anything else becomes INTERNAL and is logged', async (t) => {
  const { log, lines } = logSink();
  const k = await kernel(t, { log });
  const ref = await k.spawn('c', () => new Counter());
  for (const sync of [false, true]) {
    const e1 = await t.throwsAsync(ref.ask('fail', { tertulia: true, sync }), { instanceOf: TertuliaError });
    t.is(e1?.code, ErrorCode.FORBIDDEN);
    t.is(e1?.message, 'not yours');
    const e2 = await t.throwsAsync(ref.ask('fail', { tertulia: false, sync }), { instanceOf: TertuliaError });
    t.is(e2?.code, ErrorCode.INTERNAL);
    t.true(e2?.cause instanceof RangeError);
  }
  const logged = lines.filter((l) => l.msg === 'actor handler failed');
  t.is(logged.length, 2);
  t.is((logged[0]!.err as { message: string }).message, 'boom');
  t.is(await ref.ask('get', null), 0, 'the actor keeps working after errors');
});

test('an ask that gets no answer times out and leaves nothing pending; stop does not hang', async (t) => {
  const k = await kernel(t, { stopGraceMs: 50 });
  const ref = await k.spawn('c', () => new Counter());
  const err = await t.throwsAsync(ref.ask('hang', null, { timeoutMs: 30 }), { instanceOf: TertuliaError });
  t.is(err?.code, ErrorCode.TIMEOUT);
  t.is(k.stats().pendingAsks, 0);
  await k.stop(ref);
  t.is(k.stats().actors, 0);
});

test('a message still queued at its deadline is skipped, not run late', async (t) => {
  const k = await kernel(t);
  let actor!: Counter;
  const ref = await k.spawn('c', () => (actor = new Counter()));
  const g = gate();
  const blocked = ref.ask('block', g.promise);
  const late = ref.ask('inc', { n: 1, delayMs: 0 }, { timeoutMs: 20 });
  await t.throwsAsync(late, { instanceOf: TertuliaError, message: /in time/ });
  g.open();
  await blocked;
  t.is(await ref.ask('get', null), 0);
  t.false(actor.ran.includes('inc1'));
});

test('start leaves SIGINT/SIGTERM listeners as they were and routes comedy logs to pino', async (t) => {
  const term = process.listenerCount('SIGTERM');
  const int = process.listenerCount('SIGINT');
  const { log, lines } = logSink();
  const k = await kernel(t, { log, buckets: 2 });
  t.is(process.listenerCount('SIGTERM'), term);
  t.is(process.listenerCount('SIGINT'), int);
  await k.spawn('c', () => new Counter());
  t.true(lines.some((l) => l.component === 'comedy' && l.level === 20));
});

test('2,000 actors spawn and stop; a stopped actor refuses asks with ActorStoppedError', async (t) => {
  const k = await kernel(t);
  const refs = await Promise.all(Array.from({ length: 2000 }, (_, i) => k.spawn(`ch:${i}`, () => new Counter())));
  t.is(k.stats().actors, 2000);
  t.deepEqual(await Promise.all(refs.map((r) => r.ask('inc', { n: 0, delayMs: 0 }))), refs.map(() => 1));
  await Promise.all(refs.map((r) => k.stop(r)));
  t.is(k.stats().actors, 0);
  const err = await t.throwsAsync(refs[7]!.ask('get', null), { instanceOf: ActorStoppedError });
  t.is(err?.code, ErrorCode.INTERNAL);
  t.regex(err?.message ?? '', /ch:7 is stopped/);
  t.notThrows(() => refs[7]!.tell('get', null));
  const again = await k.spawn('ch:7', () => new Counter());
  t.not(again.id, refs[7]!.id);
});

test('stopSelf from a handler delivers the reply, runs onStop and refuses later asks', async (t) => {
  const k = await kernel(t);
  let actor!: Counter;
  const ref = await k.spawn('c', () => (actor = new Counter()));
  t.is(await ref.ask('quit', null), 'bye');
  while (k.lookup('c')) await sleep(1);
  t.is(actor.stoppedCalls, 1);
  await t.throwsAsync(ref.ask('get', null), { instanceOf: ActorStoppedError });
});

test('stop fails queued asks and unanswered deferred replies instead of leaving them hanging', async (t) => {
  const k = await kernel(t, { stopGraceMs: 10_000 });
  let actor!: Counter;
  const ref = await k.spawn('c', () => (actor = new Counter()));
  const deferred = ref.ask('commit', new Promise<string>(() => {}));
  const g = gate();
  const blocked = ref.ask('block', g.promise);
  const queued = ref.ask('get', null);
  while (!actor.ran.includes('block')) await sleep(1);
  const stopping = k.stop(ref);
  await t.throwsAsync(queued, { instanceOf: ActorStoppedError });
  g.open();
  await blocked;
  await stopping;
  await t.throwsAsync(deferred, { instanceOf: ActorStoppedError });
});

test('tell is ordered with asks and never throws', async (t) => {
  const k = await kernel(t);
  const ref = await k.spawn('c', () => new Counter());
  ref.tell('inc', { n: 0, delayMs: 2 });
  ref.tell('fail', { tertulia: false });
  ref.tell('inc', { n: 1, delayMs: 0 });
  t.is(await ref.ask('get', null), 2);
});

test('onStart failure rejects spawn and frees the key', async (t) => {
  const k = await kernel(t);
  class Broken extends Counter {
    override onStart(): void {
      throw new TertuliaError(ErrorCode.NO_SUCH_CHANNEL, 'gone');
    }
  }
  await t.throwsAsync(k.spawn('c', () => new Broken()), { instanceOf: TertuliaError, message: 'gone' });
  t.is(k.stats().actors, 0);
  t.truthy(await k.spawn('c', () => new Counter()));
});

test('shutdown refuses asks and spawns with SHUTTING_DOWN', async (t) => {
  const k = await ActorKernel.start({ log: pino({ level: 'silent' }), askTimeoutMs: 1000, mailboxCap: 10, buckets: 4 });
  const ref = await k.spawn('c', () => new Counter());
  await k.shutdown();
  const e1 = await t.throwsAsync(ref.ask('get', null), { instanceOf: TertuliaError });
  t.is(e1?.code, ErrorCode.SHUTTING_DOWN);
  const e2 = await t.throwsAsync(k.spawn('d', () => new Counter()), { instanceOf: TertuliaError });
  t.is(e2?.code, ErrorCode.SHUTTING_DOWN);
});

test('a topic naming a base-class method is not dispatched', async (t) => {
  const k = await kernel(t);
  let actor!: Counter;
  const ref = await k.spawn('c', () => (actor = new Counter()));
  const untyped = ref as unknown as { ask(topic: string, arg: unknown): Promise<unknown> };
  await t.throwsAsync(untyped.ask('onStop', null), { instanceOf: TertuliaError });
  t.is(actor.stoppedCalls, 0);
});
