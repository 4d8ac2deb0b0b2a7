import { hostname } from 'node:os';

/**
 * Configuration: read from flags and TERTULIA_* environment variables, parsed,
 * validated, defaulted and frozen once. One error lists every problem.
 */

export interface Config {
  /** This pod's name in the cluster (the StatefulSet pod name). */
  podName: string;
  host: string;
  port: number;
  /** Port of /metrics, /healthz, /readyz; -1 turns it off, 0 picks a free one. */
  metricsPort: number;
  /** Redis of the cluster registry; null runs a single pod with an in-process registry. */
  redisUrl: string | null;
  /** Key prefix in Redis, so several clusters can share one Redis. */
  redisPrefix: string;
  /** Port of the pod-to-pod link (on `host`); 0 picks a free one. */
  peerPort: number;
  /** Host other pods and clients reach this pod at; defaults to `host`. */
  advertiseHost: string | null;
  /** Shared secret pods prove to each other (never sent); required with Redis. */
  clusterSecret: string | null;
  /** A pod that has not renewed its lease for this long is dead to the others. */
  leaseMs: number;
  /** How often membership is re-read even without a notification. */
  membershipCheckMs: number;
  /** Hops a request may take between pods before it gives up. */
  maxHops: number;
  /** Directory of the filesystem blob store; defaults to <dataDir>/blobs. */
  blobDir: string | null;
  /** Google Cloud Storage bucket for history and attachments; replaces the filesystem store. */
  gcsBucket: string | null;
  /** Object name prefix inside the bucket. */
  gcsPrefix: string;
  /** Storage API endpoint, for an emulator. */
  gcsApiEndpoint: string | null;
  /** A channel writes a history segment every this many messages... */
  snapshotEvery: number;
  /** ...or this long after the last one when anything changed; 0 turns snapshots off. */
  snapshotMs: number;
  /** Largest attachment a client may upload, in bytes. */
  maxAttachmentBytes: number;
  /** Bytes per upload chunk and per download reply; must fit in a frame. */
  chunkBytes: number;
  /** An upload that receives nothing for this long is discarded. */
  uploadIdleMs: number;
  /** Uploads one user may have in progress on this pod. */
  uploadsPerUser: number;
  /** Uploads in progress on this pod, all users together. */
  uploadsPerPod: number;
  /** A finished upload that no message refers to is deleted after this long. */
  attachmentGraceMs: number;
  /** How often the pod looks for attachments to delete; 0 turns cleanup off. */
  attachmentSweepMs: number;
  /** Channels handed to other pods per second when placement changes. */
  handoffPerSec: number;
  /** How long a draining pod waits for its clients to leave before it exits anyway. */
  drainMs: number;
  /** Embedded database and blob files live here when no DATABASE_URL is set. */
  dataDir: string;
  /** A real PostgreSQL; when absent the embedded PGlite is used. */
  databaseUrl: string | null;
  databasePool: number;
  logLevel: string;
  maxFrameBytes: number;
  maxOutboundBytes: number;
  maxPending: number;
  ephemeralFlushMs: number;
  deliveryGapMs: number;
  maxConnections: number;
  heartbeatMs: number;
  idleTimeoutMs: number;
  historyPage: number;
  replayCap: number;
  tokenTtlMs: number;
  askTimeoutMs: number;
  mailboxCap: number;
  batchMax: number;
  pendingWritesCap: number;
  channelIdleMs: number;
  ringSize: number;
  sendRatePerSec: number;
  sendBurst: number;
  scryptCost: number;
}

type Kind = 'int' | 'string' | 'url' | 'redis' | 'secret' | 'level';

interface Setting {
  key: keyof Config;
  flag: string;
  env: string;
  kind: Kind;
  def: number | string | null;
  min?: number;
  max?: number;
}

const S = (key: keyof Config, kind: Kind, def: number | string | null, min?: number, max?: number): Setting => {
  const flag = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  const env = 'TERTULIA_' + flag.replace(/-/g, '_').toUpperCase();
  return { key, flag, env, kind, def, min, max };
};

const MiB = 1024 * 1024;
/** Room a `chunk` request needs besides its data. */
const CHUNK_OVERHEAD = 256;

export const SETTINGS: readonly Setting[] = [
  S('podName', 'string', hostname()),
  S('host', 'string', '127.0.0.1'),
  S('port', 'int', 7600, 0, 65535),
  S('metricsPort', 'int', -1, -1, 65535),
  S('redisUrl', 'redis', null),
  S('redisPrefix', 'string', 'tertulia:'),
  S('peerPort', 'int', 7700, 0, 65535),
  S('advertiseHost', 'string', null),
  S('clusterSecret', 'secret', null),
  S('leaseMs', 'int', 5000, 300, 600_000),
  S('membershipCheckMs', 'int', 1000, 50, 600_000),
  S('maxHops', 'int', 4, 1, 16),
  S('blobDir', 'string', null),
  S('gcsBucket', 'string', null),
  S('gcsPrefix', 'string', ''),
  S('gcsApiEndpoint', 'string', null),
  S('snapshotEvery', 'int', 1000, 1, 100_000),
  S('snapshotMs', 'int', 60_000, 0, 24 * 3600 * 1000),
  S('maxAttachmentBytes', 'int', 100 * MiB, 0, 5 * 1024 * MiB),
  S('chunkBytes', 'int', 256 * 1024, 1024, 4 * MiB),
  S('uploadIdleMs', 'int', 120_000, 100, 24 * 3600 * 1000),
  S('uploadsPerUser', 'int', 4, 1, 1000),
  S('uploadsPerPod', 'int', 64, 1, 100_000),
  S('attachmentGraceMs', 'int', 24 * 3600 * 1000, 1000, 365 * 24 * 3600 * 1000),
  S('attachmentSweepMs', 'int', 10 * 60_000, 0, 24 * 3600 * 1000),
  S('handoffPerSec', 'int', 100, 1, 100_000),
  S('drainMs', 'int', 5000, 0, 600_000),
  S('dataDir', 'string', './.data'),
  { ...S('databaseUrl', 'url', null), env: 'DATABASE_URL' },
  S('databasePool', 'int', 10, 1, 200),
  S('logLevel', 'level', 'info'),
  S('maxFrameBytes', 'int', MiB, 1024, 64 * MiB),
  S('maxOutboundBytes', 'int', 4 * MiB, 64 * 1024, 1024 * MiB),
  S('maxPending', 'int', 256, 1, 65536),
  S('ephemeralFlushMs', 'int', 50, 0, 1000),
  S('deliveryGapMs', 'int', 50, 0, 1000),
  S('maxConnections', 'int', 20000, 1, 1_000_000),
  S('heartbeatMs', 'int', 15000, 100, 3_600_000),
  S('idleTimeoutMs', 'int', 45000, 300, 3_600_000),
  S('historyPage', 'int', 200, 1, 10000),
  S('replayCap', 'int', 200, 1, 10000),
  S('tokenTtlMs', 'int', 30 * 24 * 3600 * 1000, 1000, 365 * 24 * 3600 * 1000),
  S('askTimeoutMs', 'int', 10000, 10, 600_000),
  S('mailboxCap', 'int', 4096, 1, 1_000_000),
  S('batchMax', 'int', 512, 1, 10000),
  S('pendingWritesCap', 'int', 4096, 1, 1_000_000),
  S('channelIdleMs', 'int', 5 * 60_000, 100, 24 * 3600 * 1000),
  S('ringSize', 'int', 256, 0, 100_000),
  S('sendRatePerSec', 'int', 20, 1, 1_000_000),
  S('sendBurst', 'int', 60, 1, 1_000_000),
  S('scryptCost', 'int', 16384, 2, 1 << 20),
];

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('invalid configuration:\n  - ' + problems.join('\n  - '));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses `--name value` / `--name=value` flags; positional words are returned apart. */
export function parseFlags(argv: readonly string[]): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      rest.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) flags.set(a.slice(2), argv[++i]!);
    else flags.set(a.slice(2), 'true');
  }
  return { flags, rest };
}

/** Builds the frozen config: flags override environment, which overrides defaults. */
export function loadConfig(
  flags: ReadonlyMap<string, string> = new Map(),
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Config> = {},
): Readonly<Config> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const known = new Set(SETTINGS.map((s) => s.flag));
  for (const f of flags.keys()) if (!known.has(f)) problems.push(`unknown flag --${f}`);
  for (const s of SETTINGS) {
    if (s.key in overrides) {
      out[s.key] = overrides[s.key];
      continue;
    }
    const raw = flags.get(s.flag) ?? env[s.env];
    const where = flags.has(s.flag) ? `--${s.flag}` : s.env;
    if (raw === undefined || raw === '') {
      out[s.key] = s.def;
      continue;
    }
    out[s.key] = parseValue(s, raw, where, problems);
  }
  const cfg = out as unknown as Config;
  if (cfg.idleTimeoutMs <= cfg.heartbeatMs) problems.push('idleTimeoutMs must be greater than heartbeatMs');
  if (cfg.sendBurst < 1) problems.push('sendBurst must be at least 1');
  if (cfg.redisUrl && !cfg.clusterSecret) problems.push('clusterSecret (TERTULIA_CLUSTER_SECRET) is required with a Redis URL');
  // A chunk request adds under 100 bytes to its data; leave room for that.
  if (cfg.chunkBytes + CHUNK_OVERHEAD > cfg.maxFrameBytes) {
    const set = 'chunkBytes' in overrides || flags.has('chunk-bytes') || !!env.TERTULIA_CHUNK_BYTES;
    if (set) problems.push(`chunkBytes must be at least ${CHUNK_OVERHEAD} below maxFrameBytes, so a chunk fits in a frame`);
    else cfg.chunkBytes = cfg.maxFrameBytes - CHUNK_OVERHEAD;
  }
  if (cfg.membershipCheckMs >= cfg.leaseMs) problems.push('membershipCheckMs must be below leaseMs');
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(cfg);
}

function parseValue(s: Setting, raw: string, where: string, problems: string[]): unknown {
  switch (s.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw)) {
        problems.push(`${where}: "${raw}" is not an integer`);
        return s.def;
      }
      const n = Number(raw);
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
        problems.push(`${where}: ${n} is outside ${s.min}..${s.max}`);
      }
      return n;
    }
    case 'url':
      if (!/^postgres(ql)?:\/\//.test(raw)) problems.push(`${where}: expected a postgres:// or postgresql:// URL`);
      return raw;
    case 'redis':
      if (!/^rediss?:\/\//.test(raw)) problems.push(`${where}: expected a redis:// or rediss:// URL`);
      return raw;
    case 'secret':
      if (raw.length < 16) problems.push(`${where}: must be at least 16 characters`);
      return raw;
    case 'level':
      if (!LEVELS.has(raw)) problems.push(`${where}: "${raw}" is not one of ${[...LEVELS].join(', ')}`);
      return raw;
    default:
      return raw;
  }
}
