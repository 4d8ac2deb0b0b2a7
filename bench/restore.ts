/**
 * Restore rate: simulated history segments in a filesystem blob store and in
 * the in-process GCS fake (through the real client), each restored into a
 * fresh database; reports messages/s and the time 100 million messages would
 * take against the 60-minute objective.
 *
 *   npx tsx bench/restore.ts [--messages N] [--channels N] [--segment N] [--body N]
 *                            [--concurrency N] [--database-url URL]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsBlobStore } from '../runtime/blob/fs-blob-store.js';
import { GcsBlobStore } from '../runtime/blob/gcs-blob-store.js';
import { parseFlags } from '../runtime/config.js';
import type { BlobStore } from '../runtime/ports.js';
import { eachLimit } from '../runtime/snapshot/bounded.js';
import { restore, type RestoreSummary } from '../runtime/snapshot/restore.js';
import { encodeSegment } from '../runtime/snapshot/segment.js';
import { GcsFake } from '../test/gcs-fake/server.js';
import { buildHistory, type History } from '../test/harness/history.js';
import { openBenchServer } from './database.js';

const TARGET_MESSAGES = 100_000_000;
const OBJECTIVE_MIN = 60;

const { flags } = parseFlags(process.argv.slice(2));
const int = (name: string, def: number): number => {
  const v = Number(flags.get(name) ?? def);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer`);
  return v;
};
const messages = int('messages', 500_000);
const channels = int('channels', 100);
const segmentSize = int('segment', 1000);
const bodyChars = int('body', 100);
const concurrency = int('concurrency', 4);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function upload(blobs: BlobStore, history: History): Promise<number> {
  let bytes = 0;
  await eachLimit(history.segments, 16, async ({ key, segment }) => {
    const encoded = await encodeSegment(segment);
    bytes += encoded.length;
    await blobs.put(key, encoded);
  });
  return bytes;
}

async function measure(name: string, blobs: BlobStore, history: History, url: string): Promise<RestoreSummary> {
  const bytes = await upload(blobs, history);
  log(`${name}: ${history.segments.length} segments, ${(bytes / 1024 / 1024).toFixed(1)} MiB uploaded; restoring…`);
  return restore({ url, blobs, concurrency });
}

function line(name: string, s: RestoreSummary): string {
  const rate = s.messages / (s.ms / 1000);
  const hours = TARGET_MESSAGES / rate / 3600;
  const verdict = hours * 60 <= OBJECTIVE_MIN ? 'within' : 'OVER';
  return (
    `${name.padEnd(12)} ${s.messages.toLocaleString('en-US').padStart(11)} messages  ${(s.ms / 1000).toFixed(2).padStart(7)} s  ` +
    `${Math.round(rate).toLocaleString('en-US').padStart(8)} messages/s  100M → ${(hours * 60).toFixed(0)} min (${verdict} the ${OBJECTIVE_MIN}-minute objective)`
  );
}

async function main(): Promise<void> {
  const server = await openBenchServer(flags.get('database-url') ?? process.env.DATABASE_URL ?? null, log);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tertulia-bench-restore-'));
  const fake = await GcsFake.start('bench');
  const results: string[] = [];
  try {
    log(`building ${messages.toLocaleString('en-US')} messages over ${channels} channels, ${segmentSize} per segment, ${bodyChars}-char bodies`);
    const history = buildHistory({ channels, messagesPerChannel: Math.ceil(messages / channels), segmentSize, bodyChars });
    const sources: [string, () => Promise<BlobStore>][] = [
      ['filesystem', () => FsBlobStore.open({ dir: tmp, durable: false })],
      ['GCS fake', async () => new GcsBlobStore({ bucket: 'bench', prefix: 'restore/', apiEndpoint: fake.apiEndpoint, credentials: 'none' })],
    ];
    for (const [name, open] of sources) {
      const db = await server.fresh();
      const blobs = await open();
      try {
        results.push(line(name, await measure(name, blobs, history, db.url)));
      } finally {
        await blobs.close();
        await db.release();
      }
    }
    process.stdout.write(
      `restore rate (${server.origin}; concurrency ${concurrency}; one restore process)\n${results.join('\n')}\n`,
    );
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
