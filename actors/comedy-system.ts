/**
 * The one file that touches comedy's untyped API. It starts an in-memory
 * actor system with no file configuration and no signal handlers, creates the
 * bucket parents, and hands out children with a typed two-topic surface.
 */
import comedy from 'comedy';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { comedyLevelFor, comedyLogAdapter } from './comedy-logger.js';
import type { Envelope } from './kernel-types.js';

// comedy's promises are bluebird's, whose Node scheduler is setImmediate: every
// ask would wait a whole turn of the event loop per hop, and under load a turn
// is tens of milliseconds. Microtasks keep a hop within the turn, as native
// promises do. Set on comedy's own bluebird instance, used by nothing else here.
const bluebird = createRequire(createRequire(import.meta.url).resolve('comedy'))('bluebird') as {
  setScheduler(fn: (cb: () => void) => void): unknown;
};
bluebird.setScheduler((cb) => queueMicrotask(cb));

/** What a kernel actor looks like to comedy: two topics, both never throwing. */
export interface HostBehaviour {
  ask(topic: string, arg: unknown, deadline: number): Promise<Envelope>;
  tell(topic: string, arg: unknown): void;
}

/** A comedy child actor seen through the kernel's two topics. */
export interface ComedyChild {
  readonly id: string;
  ask(topic: string, arg: unknown, deadline: number): Promise<Envelope>;
  tell(topic: string, arg: unknown): Promise<void>;
  destroy(): Promise<void>;
}

const signals = ['SIGINT', 'SIGTERM'] as const;
let systems = 0;

export class ComedySystem {
  private spawned = 0;
  /** Ids are unique per system; the prefix tells systems of one process apart. */
  private readonly idPrefix = `${(++systems).toString(36)}.`;

  private constructor(
    private readonly system: comedy.ActorSystem,
    private readonly buckets: comedy.Actor[],
  ) {}

  /** Starts the system and `bucketCount` bucket parents under its root. */
  static async start(log: Logger, bucketCount: number): Promise<ComedySystem> {
    const before = new Map(signals.map((s) => [s, new Set(process.rawListeners(s))]));
    const system = comedy.createSystem({
      // An object (not a path) makes comedy skip reading and watching actors.json.
      config: Object.create(null) as object,
      logger: comedyLogAdapter(log),
      forceInMemory: true,
    });
    // comedy's handlers call process.exit(0), which would skip our drain.
    // Remove exactly what createSystem added; anything else is someone else's.
    for (const s of signals) {
      for (const l of process.rawListeners(s)) {
        if (!before.get(s)!.has(l)) process.removeListener(s, l as (...a: unknown[]) => void);
      }
    }
    // Set before any actor exists: each actor's logger copies the level once.
    system.getLog().setLevel(comedyLevelFor(log));
    try {
      const root = await system.rootActor();
      const buckets = await Promise.all(
        Array.from({ length: bucketCount }, (_, i) => spawnBucket(root, i)),
      );
      return new ComedySystem(system, buckets);
    } catch (err) {
      await system.destroy();
      throw err;
    }
  }

  /** Creates a child of bucket `bucket` whose behaviour is `host`. */
  async spawn(bucket: number, name: string, host: HostBehaviour): Promise<ComedyChild> {
    const parent = this.buckets[bucket];
    if (!parent) throw new RangeError(`no bucket ${bucket}`);
    // A null-prototype config: comedy looks the actor name up in it, and a
    // key like "constructor" must not find Object.prototype's members.
    // Our own id: comedy's default is a BSON ObjectID built with the deprecated
    // Buffer() constructor, whose deprecation check captures a stack trace on
    // each of the first 10,000 calls; that was a tenth of a connect's CPU.
    const id = `${this.idPrefix}${(++this.spawned).toString(36)}`;
    const ref = await parent.createChild(host, Object.assign(Object.create(null) as object, { name, id }));
    return {
      id: ref.getId(),
      ask: (topic, arg, deadline) => ref.sendAndReceive('ask', topic, arg, deadline) as Promise<Envelope>,
      // Not ref.send(): comedy's send0 defers the handler by one more promise
      // hop than sendAndReceive0, so a tell followed by an ask would arrive
      // after the ask. sendAndReceive keeps one sender's messages in order.
      tell: (topic, arg) => ref.sendAndReceive('tell', topic, arg) as Promise<void>,
      destroy: () => ref.destroy(),
    };
  }

  destroy(): Promise<void> {
    return Promise.resolve(this.system.destroy());
  }
}

function spawnBucket(root: comedy.Actor, i: number): Promise<comedy.Actor> {
  return new Promise<comedy.Actor>((resolve, reject) => {
    // comedy hands an actor its own createChild-capable self only through
    // initialize(); the ref createChild returns cannot create children.
    const behaviour = { initialize: (self: comedy.Actor) => resolve(self) };
    root.createChild(behaviour, { name: `bucket-${i}` }).then(undefined, reject);
  });
}
