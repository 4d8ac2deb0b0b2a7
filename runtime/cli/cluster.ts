/**
 * `tertulia cluster --pods N`: N pods on this machine for development, sharing
 * the PostgreSQL in DATABASE_URL and a Redis (TERTULIA_REDIS_URL, or a private
 * redis-server started here when none is given). Prints every pod's client
 * address; Ctrl-C drains them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../config.js';

/** The CLI entry this process was started from (bin/tertulia.js), to start the pods with. */
const BIN = process.argv[1] ?? resolve(fileURLToPath(import.meta.url), '../../../bin/tertulia.js');

export async function runCluster(args: string[]): Promise<number> {
  const { flags } = parseFlags(args);
  const pods = Number(flags.get('pods') ?? 3);
  const basePort = Number(flags.get('port') ?? 7600);
  if (!Number.isInteger(pods) || pods < 1 || pods > 32) return fail('--pods must be 1..32');
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + pods > 65535) return fail('--port must leave room for every pod');
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) return fail('a cluster needs one PostgreSQL that every pod shares: set DATABASE_URL');

  const children: ChildProcess[] = [];
  let redisUrl = process.env.TERTULIA_REDIS_URL;
  let redisDir: string | null = null;
  if (!redisUrl) {
    const port = await freePort();
    redisDir = mkdtempSync(join(tmpdir(), 'tertulia-cluster-redis-'));
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir], {
      stdio: 'ignore',
    });
    redis.on('error', (err) => process.stderr.write(`cannot start redis-server: ${err.message}\n`));
    children.push(redis);
    await waitForPort(port);
    redisUrl = `redis://127.0.0.1:${port}`;
  }
  const env = {
    ...process.env,
    TERTULIA_REDIS_URL: redisUrl,
    TERTULIA_CLUSTER_SECRET: process.env.TERTULIA_CLUSTER_SECRET ?? randomBytes(24).toString('base64url'),
  };
  const addresses: string[] = [];
  try {
    for (let i = 0; i < pods; i++) {
      const child = spawn(process.execPath, [BIN, 'server', '--pod-name', `pod-${i}`, '--port', String(basePort + i), '--peer-port', '0'], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      addresses.push(await listeningLine(child));
      process.stdout.write(`pod-${i}  clients at ${addresses[i]}\n`);
    }
  } catch (err) {
    // Nothing started here may outlive this command.
    for (const c of children) c.kill('SIGKILL');
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
    return fail((err as Error).message);
  }
  process.stdout.write(`\n${pods} pods up (Redis ${redisUrl}). Chat with: node bin/tertulia.js chat ${addresses[0]}\nCtrl-C drains and stops them.\n`);

  await new Promise<void>((done) => {
    const stop = () => {
      for (const c of children.slice(redisDir ? 1 : 0)) c.kill('SIGTERM');
      Promise.all(children.slice(redisDir ? 1 : 0).map(exited)).then(() => {
        if (redisDir) children[0]!.kill('SIGTERM');
        done();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  return 0;
}

function fail(message: string): number {
  process.stderr.write(`tertulia cluster: ${message}\n`);
  return 2;
}

function exited(c: ChildProcess): Promise<void> {
  return c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
}

function listeningLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"listening"'));
      if (line) {
        const { host, port } = JSON.parse(line).listening;
        resolve(`${host}:${port}`);
      }
    });
    child.once('exit', (code) => reject(new Error(`a pod exited with code ${code} while starting`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not come up on port ${port}`);
}
