/**
 * The composition root: the only place that picks adapters. With no database
 * URL the pod runs on the embedded PGlite in its data directory.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { ActorKernel } from '../actors/kernel.js';
import { ActorDirectory } from '../actors/directory.js';
import { Hub } from '../actors/hub.js';
import type { Fanout } from '../actors/fanout.js';
import { channelRouter, type ChannelRouter } from '../actors/router.js';
import { UserActor, type UserProtocol } from '../actors/user-actor.js';
import type { Limits } from '../protocol/messages.js';
import { AuthService } from './auth.js';
import type { Config } from './config.js';
import { Gateway } from './gateway/gateway.js';
import { Session } from './gateway/session.js';
import { createLogger } from './log.js';
import type { Store } from './ports.js';
import { embeddedDirOf, openStore } from './store/open.js';
import { PodMetrics, serveMetrics } from './metrics.js';

export interface RunningNode {
  readonly host: string;
  readonly port: number;
  /** Port of the metrics/health endpoint, or null when off. */
  readonly metricsPort: number | null;
  readonly metrics: PodMetrics;
  readonly store: Store;
  readonly channels: ChannelRouter;
  readonly gateway: Gateway;
  /** Drains clients, lets channel writes commit, closes the database. Idempotent. */
  stop(): Promise<void>;
}

export const SERVER_NAME = 'tertulia/0.1.0';

export async function startNode(cfg: Readonly<Config>, log: Logger = createLogger(cfg.logLevel)): Promise<RunningNode> {
  const database = await openDatabase(cfg, log);
  const { store } = database;
  const kernel = await ActorKernel.start({
    log: log.child({ component: 'kernel' }),
    askTimeoutMs: cfg.askTimeoutMs,
    mailboxCap: cfg.mailboxCap,
  });
  const hub = new Hub();
  const self = cfg.podName;
  const fanout: Fanout = (pods, delivery) => {
    for (const pod of pods) if (pod === self) hub.apply(delivery, self);
  };
  const metrics = new PodMetrics();
  const channels = channelRouter(
    kernel,
    store,
    {
      store,
      fanout,
      metrics,
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
  const users = new ActorDirectory<UserProtocol>(
    'user',
    kernel,
    async (id, stopped) => {
      return () =>
        new UserActor(
          id,
          {
            store,
            router: channels,
            hub,
            pod: self,
            log,
            limits: { sendRatePerSec: cfg.sendRatePerSec, sendBurst: cfg.sendBurst, findMax: 100 },
            stopped,
          },
        );
    },
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
  };
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
      onClose: (reason) => {
        if (reason === 'slow_consumer') metrics.slowConsumers.inc();
      },
    },
    log.child({ component: 'gateway' }),
    (conn) => new Session(conn, { auth, users, hub, limits, server: SERVER_NAME, log: sessionLog }),
  );
  let addr: { host: string; port: number };
  try {
    addr = await gateway.listen();
  } catch (err) {
    await kernel.shutdown();
    await database.close();
    throw err;
  }
  metrics.sample = () => ({ connections: gateway.connectionCount, channels: channels.activeCount, users: users.activeCount });
  let serving = true;
  const http = cfg.metricsPort >= 0 ? await serveMetrics(metrics, cfg.host, cfg.metricsPort, () => serving) : null;
  log.info({ host: addr.host, port: addr.port, metricsPort: http?.port, database: database.kind }, 'tertulia listening');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      serving = false;
      await gateway.stop();
      await channels.stopAll();
      await users.stopAll();
      await kernel.shutdown();
      await database.close();
      await http?.close();
      log.info('tertulia stopped');
    })());
  return { host: addr.host, port: addr.port, metricsPort: http?.port ?? null, metrics, store, channels, gateway, stop };
}

async function openDatabase(cfg: Readonly<Config>, log: Logger) {
  if (cfg.databaseUrl) return openStore({ url: cfg.databaseUrl, poolSize: cfg.databasePool, log });
  mkdirSync(resolve(cfg.dataDir), { recursive: true });
  return openStore({ embeddedDir: embeddedDirOf(cfg.dataDir), log });
}
