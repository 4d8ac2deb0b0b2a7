/**
 * The measured connect phase: every user opens a fresh connection and resumes
 * with its token (TCP connect + hello + auth, timed together as one connect),
 * then subscribes to its channel (timed apart). Clients either arrive one by
 * one at a steady rate (each starting on its own schedule, whether or not
 * the ones before it are done: an open model of a crowd arriving), or start
 * in waves of simultaneous connects, each wave once the last is done (a
 * burst, as after a restart when clients reconnect together).
 * With several pods, client i connects to pod i mod N (round-robin).
 */
import { TertuliaClient } from '../protocol/client/index.js';
import { LiteClient } from './lite-client.js';
import type { MessageView } from '../protocol/messages.js';
import type { TertuliaError } from '../protocol/errors.js';
import { arrive, inParallel } from './concurrency.js';
import type { Population } from './setup.js';
import { Samples, Tally, errorKey } from './stats.js';

/** A pod's client address; `name` labels the clients that connect to it. */
export interface Target {
  name: string;
  host: string;
  port: number;
}

/** What the traffic phase needs of a client: the library's TertuliaClient or the lean LiteClient. */
export interface BenchClient {
  readonly state: string;
  request(op: 'send', args: { channel: number; cmid: string; body: string }, opts: { timeoutMs: number }): Promise<unknown>;
  close(): Promise<void>;
}

// TERTULIA_BENCH_CLIENT=full measures with the client library instead of the lean one.
const FULL_CLIENT = process.env.TERTULIA_BENCH_CLIENT === 'full';

export interface Member {
  client: BenchClient;
  /** The target (pod) this client connected to. */
  pod: string;
  channel: number;
  /** Sends awaiting an ack, capped by the traffic phase. */
  outstanding: number;
}

export interface ClientHooks {
  message(m: MessageView): void;
}

export interface ConnectResult {
  members: Member[];
  connectMs: Samples;
  /** With the lean client: the connect split into TCP, then the hello reply, then the auth reply. */
  stepsMs: { tcp: Samples; hello: Samples; auth: Samples };
  subscribeMs: Samples;
  failures: Tally;
  /** Server error events and drops seen on any client for the rest of the run. */
  serverErrors: Tally;
  disconnects: Tally;
}

export async function connectAll(
  targets: readonly Target[],
  pop: Population,
  opts: { wave: number; arrivalsPerSec: number; requestTimeoutMs: number },
  hooks: ClientHooks,
): Promise<ConnectResult> {
  const r: ConnectResult = {
    members: [],
    connectMs: new Samples(),
    stepsMs: { tcp: new Samples(), hello: new Samples(), auth: new Samples() },
    subscribeMs: new Samples(),
    failures: new Tally(),
    serverErrors: new Tally(),
    disconnects: new Tally(),
  };
  const one = async (u: Population['users'][number], i: number): Promise<void> => {
    const { host, port, name: pod } = targets[i % targets.length]!;
    // No reconnect: a dropped client should show up as a drop, not be healed quietly.
    const client = FULL_CLIENT
      ? new TertuliaClient({ host, port, token: u.token, reconnect: false, requestTimeoutMs: opts.requestTimeoutMs, name: 'bench' })
      : new LiteClient({ host, port, token: u.token, requestTimeoutMs: opts.requestTimeoutMs });
    client.on('message', hooks.message);
    client.on('error', (err: TertuliaError) => r.serverErrors.add(errorKey(err)));
    client.on('disconnect', (info) => r.disconnects.add(info.error ? errorKey(info.error) : 'closed by server'));
    const t0 = performance.now();
    try {
      await client.connect();
      if (!client.user) throw new Error('token refused');
      const t1 = performance.now();
      r.connectMs.add(t1 - t0);
      if (client instanceof LiteClient) {
        const { tcpMs, helloMs } = client.steps;
        r.stepsMs.tcp.add(tcpMs);
        r.stepsMs.hello.add(helloMs);
        r.stepsMs.auth.add(t1 - t0 - tcpMs - helloMs);
      }
      await client.subscribe(u.channel);
      r.subscribeMs.add(performance.now() - t1);
      r.members.push({ client, pod, channel: u.channel, outstanding: 0 });
    } catch (err) {
      r.failures.add(errorKey(err));
      await client.close();
    }
  };
  if (opts.arrivalsPerSec > 0) await arrive(pop.users, opts.arrivalsPerSec, one);
  else for (let start = 0; start < pop.users.length; start += opts.wave) {
    const wave = pop.users.slice(start, start + opts.wave);
    await inParallel(wave, wave.length, (u, i) => one(u, start + i));
  }
  return r;
}

/** Closes every client, a few at a time so the pod sees an orderly leave. */
export async function closeAll(members: readonly Member[]): Promise<void> {
  await inParallel(members, 100, (m) => m.client.close());
}
