/**
 * The composition root: the only place that picks adapters. With no database
 * URL the pod runs on the embedded PGlite in its data directory; with no Redis
 * URL it is a cluster of one on the in-process registry.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { ActorKernel } from '../actors/kernel.js';
import { ActorDirectory } from '../actors/directory.js';
import { Hub } from '../actors/hub.js';
import { localChannels, type LocalChannels } from '../actors/router.js';
import { UserActor, type UserProtocol } from '../actors/user-actor.js';
import type { Limits } from '../protocol/messages.js';
import { MAX_ATTACHMENTS } from '../protocol/fields.js';
import { AuthService } from './auth.js';
import { Cluster } from './cluster/cluster.js';
import type { Config } from './config.js';
import { Gateway } from './gateway/gateway.js';
import { Session } from './gateway/session.js';
import { createLogger } from './log.js';
import { PodMetrics, serveMetrics } from './metrics.js';
import type { Store } from './ports.js';
import { embeddedDirOf, openStore } from './store/open.js';
import { openBlobStore } from './blob/open.js';
import { Snapshotter } from './snapshot/snapshotter.js';
import { openAttachments, type AttachmentServices } from './attachments/open.js';

export interface RunningNode {
  readonly host: string;
  readonly port: number;
  /** Port of the metrics/health endpoint, or null when off. */
  readonly metricsPort: number | null;
  readonly metrics: PodMetrics;
  readonly store: Store;
  /** The channel actors living in this pod. */
  readonly channels: LocalChannels;
  readonly cluster: Cluster;
  readonly gateway: Gateway;
  readonly attachments: AttachmentServices;
  /** Drains clients, lets channel writes commit, leaves the cluster, closes the database. Idempotent. */
  stop(): Promise<void>;
}

export const SERVER_NAME = 'tertulia/0.1.0';

// History segments written at once, pod-wide: few enough that their reads and
// encoding do not crowd out the traffic's, enough for tens of segments a second.
const SNAPSHOT_WRITERS = 2;

export async function startNode(cfg: Readonly<Config>, log: Logger = createLogger(cfg.logLevel)): Promise<RunningNode> {
  const database = await openDatabase(cfg, log);
  const { store } = database;
  const { blobs, kind: blobKind, where: blobWhere } = await openBlobStore(cfg);
  const snapshots =
    cfg.snapshotMs > 0
      ? new Snapshotter(
          database.snapshots,
          blobs,
          { every: cfg.snapshotEvery, everyMs: cfg.snapshotMs, maxMessages: Math.max(Math.ceil(cfg.snapshotEvery * 1.5), 1000), concurrency: SNAPSHOT_WRITERS },
          log.child({ component: 'snapshots' }),
        )
      : null;
  const attachments = openAttachments(cfg, database.attachments, blobs, log);
  const cluster = await Cluster.open(cfg, log);
  const kernel = await ActorKernel.start({
    log: log.child({ component: 'kernel' }),
    askTimeoutMs: cfg.askTimeoutMs,
    mailboxCap: cfg.mailboxCap,
  });
  const hub = new Hub((channel) => cluster.moved(channel));
  const metrics = new PodMetrics();
  const channels = localChannels(
    kernel,
    store,
    cluster,
    {
      store,
      attachments: database.attachments,
      fanout: cluster.fanout,
      metrics,
      ...(snapshots ? { snapshots } : {}),
      log: log.child({ component: 'channel' }),
      limits: {
        historyPage: cfg.historyPage,
        replayCap: cfg.replayCap,
        ringSize: cfg.ringSize,
        batchMax: cfg.batchMax,
        pendingWritesCap: cfg.pendingWritesCap,
        idleMs: cfg.channelIdleMs,
      },
    },
    { maxActors: 200_000 },
    log,
  );
  cluster.bind(channels, hub);
  const users = new ActorDirectory<UserProtocol>(
    'user',
    kernel,
    async (id, stopped) => () =>
      new UserActor(id, {
        store,
        files: attachments.files,
        router: cluster.channels,
        hub,
        pod: cfg.podName,
        log,
        limits: { sendRatePerSec: cfg.sendRatePerSec, sendBurst: cfg.sendBurst, findMax: 100 },
        stopped,
      }),
    // A closed connection's user actor stops a moment later: leave room for those.
    { maxActors: cfg.maxConnections * 2 },
    log,
  );
  const auth = new AuthService(store, { tokenTtlMs: cfg.tokenTtlMs, scryptCost: cfg.scryptCost });
  const limits: Limits = {
    maxFrameBytes: cfg.maxFrameBytes,
    maxBodyChars: 4000,
    historyPage: cfg.historyPage,
    maxPending: cfg.maxPending,
    heartbeatMs: cfg.heartbeatMs,
    idleTimeoutMs: cfg.idleTimeoutMs,
    maxAttachmentBytes: cfg.maxAttachmentBytes,
    chunkBytes: cfg.chunkBytes,
    maxAttachments: MAX_ATTACHMENTS,
  };
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const sessionLog = log.child({ component: 'session' });
  const gateway = new Gateway(
    {
      host: cfg.host,
      port: cfg.port,
      maxConnections: cfg.maxConnections,
      idleTimeoutMs: cfg.idleTimeoutMs,
      maxFrameBytes: cfg.maxFrameBytes,
      maxOutboundBytes: cfg.maxOutboundBytes,
      maxPending: cfg.maxPending,
      ephemeralFlushMs: cfg.ephemeralFlushMs,
      deliveryGapMs: cfg.deliveryGapMs,
      onClose: (reason) => {
        if (reason === 'slow_consumer') metrics.slowConsumers.inc();
      },
    },
    log.child({ component: 'gateway' }),
    (conn) => new Session(conn, { auth, users, hub, limits, server: SERVER_NAME, log: sessionLog, ready }),
  );

  let serving = false;
  let http: Awaited<ReturnType<typeof serveMetrics>> | null = null;
  const closeAll = async () => {
    serving = false;
    // Drain: no new clients; leave the cluster so others take the channels;
    // then send this pod's clients to the other pods and wait for them to go.
    gateway.stopAccepting();
    await cluster.leave().catch((err) => log.warn({ err }, 'leaving the cluster failed'));
    await gateway.stop(cfg.drainMs, cluster.otherPods());
    await channels.stopAll();
    await users.stopAll();
    await attachments.stop();
    await cluster.stop();
    await kernel.shutdown();
    await snapshots?.stop();
    await blobs.close();
    await database.close();
    await http?.close();
  };
  let addr: { host: string; port: number };
  try {
    addr = await gateway.listen();
    await cluster.start(addr.port);
    http = cfg.metricsPort >= 0 ? await serveMetrics(metrics, cfg.host, cfg.metricsPort, () => serving) : null;
  } catch (err) {
    await closeAll().catch(() => {});
    throw err;
  }
  metrics.clusterSample = () => cluster.stats();
  metrics.sample = () => ({
    connections: gateway.connectionCount,
    channels: channels.activeCount,
    users: users.activeCount,
    snapshotLag: snapshots?.lag ?? 0,
    deliveryGapMs: gateway.deliveryGapMs,
  });
  serving = true;
  attachments.start();
  markReady();
  log.info(
    {
      pod: cfg.podName,
      host: addr.host,
      port: addr.port,
      metricsPort: http?.port,
      database: database.kind,
      blobs: `${blobKind} ${blobWhere}`,
      cluster: cfg.redisUrl ? 'redis' : 'local',
      // From the bundle bin/tertulia.js builds, or (no bundle could be built, or asked) the sources.
      code: import.meta.url.endsWith('.ts') ? 'sources' : 'bundle',
    },
    'tertulia listening',
  );

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= closeAll().then(() => {
      log.info('tertulia stopped');
    }));
  return {
    host: addr.host,
    port: addr.port,
    metricsPort: http?.port ?? null,
    metrics,
    store,
    channels,
    cluster,
    gateway,
    attachments,
    stop,
  };
}

async function openDatabase(cfg: Readonly<Config>, log: Logger) {
  if (cfg.databaseUrl) return openStore({ url: cfg.databaseUrl, poolSize: cfg.databasePool, log });
  mkdirSync(resolve(cfg.dataDir), { recursive: true });
  return openStore({ embeddedDir: embeddedDirOf(cfg.dataDir), log });
}
