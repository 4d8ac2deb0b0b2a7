/**
 * Attachment throughput: one file uploaded and downloaded through the
 * protocol (a pod over TCP, chunk by chunk) against the blob store written and
 * read directly with the same bytes, on the filesystem and on the GCS fake
 * (through the real client), in the same run. Reports MiB/s and the ratio.
 *
 *   npx tsx bench/attachments.ts [--mib N] [--database-url URL]
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { TertuliaClient } from '../protocol/client/index.js';
import { FsBlobStore } from '../runtime/blob/fs-blob-store.js';
import { GcsBlobStore } from '../runtime/blob/gcs-blob-store.js';
import { loadConfig, parseFlags, type Config } from '../runtime/config.js';
import { startNode } from '../runtime/node.js';
import type { BlobStore } from '../runtime/ports.js';
import { GcsFake } from '../test/gcs-fake/server.js';
import { openBenchServer } from './database.js';

const { flags } = parseFlags(process.argv.slice(2));
const mib = Number(flags.get('mib') ?? 64);
if (!Number.isInteger(mib) || mib < 1) throw new RangeError('--mib must be a positive integer');
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const MiB = 1024 * 1024;

interface Figures {
  up: number;
  down: number;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** The blob store alone: putStream in 256 KiB parts, then ranged gets of the same size. */
async function direct(blobs: BlobStore, bytes: Buffer, chunk: number): Promise<Figures> {
  const key = `bench/direct-${Date.now()}`;
  async function* parts(): AsyncIterable<Uint8Array> {
    for (let o = 0; o < bytes.length; o += chunk) yield bytes.subarray(o, o + chunk);
  }
  const up = await timed(() => blobs.putStream(key, parts(), { ifAbsent: true }));
  const down = await timed(async () => {
    for (let o = 0; o < bytes.length; o += chunk) await blobs.get(key, { range: { start: o, end: o + chunk } });
  });
  await blobs.delete(key);
  return { up, down };
}

/** Through a pod: upload (hash, chunks, finish) and download (chunks, hash check) with the client library. */
async function throughPod(cfg: Readonly<Config>, bytes: Buffer): Promise<Figures> {
  const node = await startNode(cfg, pino({ level: 'warn' }));
  const c = new TertuliaClient({ host: '127.0.0.1', port: node.port, requestTimeoutMs: 60_000 });
  try {
    await c.connect();
    await c.register(`bench${process.pid}`, 'correct horse battery');
    let id = '';
    const up = await timed(async () => {
      id = (await c.upload(bytes, { name: 'bench.bin' })).id;
    });
    const down = await timed(async () => {
      const got = await c.download(id);
      if (!got.data.equals(bytes)) throw new Error('downloaded bytes differ');
    });
    return { up, down };
  } finally {
    await c.close();
    await node.stop();
  }
}

const rate = (seconds: number): string => `${(mib / seconds).toFixed(0).padStart(5)} MiB/s`;

async function main(): Promise<void> {
  const server = await openBenchServer(flags.get('database-url') ?? process.env.DATABASE_URL ?? null, log);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tertulia-bench-files-'));
  const fake = await GcsFake.start('bench');
  const bytes = randomBytes(mib * MiB);
  const lines: string[] = [];
  try {
    const adapters: [string, Partial<Config>, () => Promise<BlobStore>][] = [
      ['filesystem', { blobDir: tmp }, () => FsBlobStore.open({ dir: tmp })],
      [
        'GCS fake',
        { gcsBucket: 'bench', gcsPrefix: 'files/', gcsApiEndpoint: fake.apiEndpoint },
        async () => new GcsBlobStore({ bucket: 'bench', prefix: 'files/', apiEndpoint: fake.apiEndpoint, credentials: 'none' }),
      ],
    ];
    for (const [name, overrides, open] of adapters) {
      const db = await server.fresh();
      const cfg = loadConfig(new Map(), {}, { port: 0, logLevel: 'warn', metricsPort: -1, databaseUrl: db.url, snapshotMs: 0, ...overrides });
      try {
        log(`${name}: ${mib} MiB directly, then through a pod…`);
        const blobs = await open();
        const base = await direct(blobs, bytes, cfg.chunkBytes).finally(() => blobs.close());
        const pod = await throughPod(cfg, bytes);
        lines.push(
          `${name.padEnd(11)} upload   ${rate(pod.up)} through the pod, ${rate(base.up)} direct (pod ÷ direct ${(base.up / pod.up).toFixed(2)})\n` +
            `${''.padEnd(11)} download ${rate(pod.down)} through the pod, ${rate(base.down)} direct (pod ÷ direct ${(base.down / pod.down).toFixed(2)})`,
        );
      } finally {
        await db.release();
      }
    }
    process.stdout.write(`attachments: one ${mib} MiB file, chunks of 256 KiB, one client (${server.origin})\n${lines.join('\n')}\n`);
  } finally {
    await fake.close();
    await fs.rm(tmp, { recursive: true, force: true });
    await server.release();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
