/**
 * Starts a real Tertulia pod in this test process on a free port, against a
 * private PostgreSQL database, and clients that talk to it over TCP.
 */
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../runtime/config.js';
import { startNode, type RunningNode } from '../../runtime/node.js';
import { TertuliaClient } from '../../protocol/client/index.js';
import { startPostgres, type PrivatePostgres } from './postgres.js';

/** Test defaults: fast password hashing, quiet logs. */
export function testConfig(overrides: Partial<Config> = {}): Readonly<Config> {
  // History segments go to a directory of this process's, never into the repository.
  const blobDir = overrides.blobDir ?? join(testBlobRoot(), String(++blobDirs));
  return loadConfig(new Map(), {}, { port: 0, logLevel: 'silent', scryptCost: 1024, blobDir, ...overrides });
}

let blobRoot: string | null = null;
let blobDirs = 0;
function testBlobRoot(): string {
  if (!blobRoot) {
    const root = mkdtempSync(join(tmpdir(), 'tertulia-blobs-'));
    blobRoot = root;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  return blobRoot;
}

/** Pods of this process not yet stopped: stopped before their database goes. */
const running = new Set<RunningNode>();

export async function startPod(overrides: Partial<Config>): Promise<RunningNode> {
  const cfg = testConfig(overrides);
  const node = await startNode(cfg, pino({ level: process.env.TERTULIA_TEST_LOG ?? 'silent' }));
  running.add(node);
  const stop = node.stop;
  return Object.assign(node, {
    stop: () => stop().finally(() => running.delete(node)),
  });
}

/** One private PostgreSQL per test file, started on first use and stopped after the file's tests. */
export function usePostgres(test: { after: { always: (fn: () => Promise<void>) => void } }): () => Promise<PrivatePostgres> {
  let pg: Promise<PrivatePostgres> | null = null;
  test.after.always(async () => {
    const p = await pg?.catch(() => null);
    // Hooks run in the order they were declared, and this one comes first:
    // stop the pods before the database they are connected to.
    await Promise.all([...running].map((n) => n.stop().catch(() => {})));
    await p?.stop();
  });
  return () => (pg ??= startPostgres());
}

/** One pod per test file on a fresh database of the file's private PostgreSQL; started before the tests, stopped after. */
export function usePod(test: {
  before: (fn: () => Promise<void>) => void;
  after: { always: (fn: () => Promise<void>) => void };
}, overrides: Partial<Config> = {}): () => RunningNode {
  const pg = usePostgres(test);
  let node: RunningNode | undefined;
  test.before(async () => {
    node = await startPod({ databaseUrl: await (await pg()).createDatabase(), ...overrides });
  });
  return () => node!;
}

/** A connected client, closed when the test ends. */
export async function client(t: ExecutionContext, node: { port: number }): Promise<TertuliaClient> {
  const c = new TertuliaClient({ host: '127.0.0.1', port: node.port, requestTimeoutMs: 15000 });
  t.teardown(() => c.close());
  await c.connect();
  return c;
}

let userSeq = 0;
/** A registered, logged-in client with a unique name. */
export async function user(t: ExecutionContext, node: { port: number }, prefix = 'u'): Promise<TertuliaClient & { name: string }> {
  const c = await client(t, node);
  const name = `${prefix}${process.pid}x${++userSeq}`;
  await c.register(name, 'correct horse battery');
  return Object.assign(c, { name });
}

/** Resolves when `pred` holds, polling; rejects after `ms`. */
export async function eventually(pred: () => boolean | Promise<boolean>, ms = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The error code a promise rejects with; undefined when it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}
