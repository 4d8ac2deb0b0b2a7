/**
 * `tertulia snapshot --all`: writes every channel's pending history segments
 * now, straight from the database, whatever pods are running. Segments are
 * create-only, so running it beside live pods is safe.
 */
import { parseFlags } from '../config.js';
import { openBlobStore } from '../blob/open.js';
import { writeSegment } from '../snapshot/write-segment.js';
import { embeddedDirOf, openStore } from '../store/open.js';
import { configFrom } from './config-from.js';

export async function runSnapshot(args: string[]): Promise<number> {
  const { flags } = parseFlags(args);
  if (flags.get('all') !== 'true') {
    process.stderr.write('usage: tertulia snapshot --all\n');
    return 2;
  }
  flags.delete('all');
  const cfg = configFrom([...flags].flatMap(([k, v]) => [`--${k}`, v]));
  const db = cfg.databaseUrl
    ? await openStore({ url: cfg.databaseUrl, poolSize: 4 })
    : await openStore({ embeddedDir: embeddedDirOf(cfg.dataDir) });
  const { blobs, where } = await openBlobStore(cfg);
  const started = Date.now();
  let segments = 0;
  let messages = 0;
  try {
    const ids = await db.snapshots.channelIds();
    for (const id of ids) {
      for (;;) {
        const r = await writeSegment(db.snapshots, blobs, id, 0, 5000);
        if (r.written) segments++;
        messages += r.messages;
        if (r.messages < 5000) break;
      }
    }
    process.stdout.write(
      `${ids.length} channels, ${segments} segments, ${messages} messages written to ${where} in ${Date.now() - started} ms\n`,
    );
    return 0;
  } finally {
    await blobs.close();
    await db.close();
  }
}
