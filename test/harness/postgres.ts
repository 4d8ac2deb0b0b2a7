/**
 * A private PostgreSQL server per test file, on a free loopback port.
 *
 * initdb runs once per machine (per PostgreSQL version and OS user) into a
 * template data directory under os.tmpdir(), guarded by a lock directory; each
 * server copies the template (~0.1 s) instead of running initdb (~1–2 s). One
 * server per test file keeps files isolated (ava runs them in parallel
 * processes) and makes ownership simple: the process that starts a server stops
 * it. A reaper stops it if the test process dies first, and the next start
 * sweeps data directories left behind by dead test processes.
 *
 * As root, initdb and postgres run as the `postgres` user: spawn() switches
 * uid/gid itself, so the PID we hold is the postmaster's own (runuser would sit
 * in between and need its signal forwarding to stop the server).
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { startService, waitUntil, type Service } from './process.js';

const run = promisify(execFile);

export interface PrivatePostgres {
  host: string;
  port: number;
  /** A fresh, empty database created for this server's caller. */
  url: string;
  /** Creates another fresh database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
}

/** Settings for speed: durability is worthless in a throw-away test server. */
const TEST_SETTINGS = [
  'fsync=off',
  'synchronous_commit=off',
  'full_page_writes=off',
  'shared_buffers=32MB',
  'max_connections=60',
  'log_min_messages=warning',
];

const INSTANCE_PREFIX = 'tertulia-pg-';
let databases = 0;

/** Starts a private server and creates one fresh database on it. */
export async function startPostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const owner = serverUser();
  sweepStaleInstances();
  const template = await ensureTemplate(bin, owner);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${INSTANCE_PREFIX}${process.pid}-`));
  const data = path.join(dir, 'data');
  await run('cp', ['-a', template, data]);
  // The socket goes into the instance directory, which the server user must own.
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);

  let service: Service | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !service; attempt++) {
    port = await freePort();
    const args = ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir];
    for (const setting of TEST_SETTINGS) args.push('-c', setting);
    const candidate = startService(path.join(bin, 'postgres'), args, {
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
      reapSignal: 'SIGINT',
    });
    try {
      await waitUntil(candidate, () => canConnect(port), `postgres on port ${port}`);
      service = candidate;
    } catch (err) {
      await candidate.stop('SIGKILL');
      // Another process took the port between freePort() and bind: try another.
      if (!/could not bind|already in use/i.test(candidate.output())) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  if (!service) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error('postgres: no free port after 5 attempts');
  }

  const running = service;
  const createDatabase = async (): Promise<string> => {
    const name = `t_${process.pid}_${++databases}_${randomBytes(3).toString('hex')}`;
    await withClient(port, 'postgres', (c) => c.query(`create database ${name}`));
    return `postgresql://postgres@127.0.0.1:${port}/${name}`;
  };
  let url: string;
  try {
    url = await createDatabase();
  } catch (err) {
    await running.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    url,
    createDatabase,
    async stop() {
      await running.stop('SIGINT');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The newest installed server, e.g. /usr/lib/postgresql/16/bin; PG_BIN overrides. */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres')))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length > 0) return path.join(root, versions[0]!, 'bin');
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no PostgreSQL server found: install it or set PG_BIN');
  }
}

interface OsUser {
  uid: number;
  gid: number;
}

/** The `postgres` OS user when we run as root (initdb refuses root), else null. */
function serverUser(): OsUser | null {
  if (process.getuid?.() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * The initdb'd template, created once. A lock directory elects one creator;
 * the others wait for the finished template, which appears by rename.
 */
async function ensureTemplate(bin: string, owner: OsUser | null): Promise<string> {
  const version = path.basename(path.dirname(bin));
  const template = path.join(os.tmpdir(), `tertulia-pg-template-${version}-${owner?.uid ?? process.getuid?.() ?? 0}`);
  const lock = `${template}.lock`;
  const deadline = Date.now() + 120_000;
  while (!fs.existsSync(template)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${template}`);
    try {
      fs.mkdirSync(lock);
    } catch {
      // Someone else is creating it; a lock older than a minute is from a crash.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 60_000) fs.rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      if (!fs.existsSync(template)) await initTemplate(bin, owner, template);
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return template;
}

async function initTemplate(bin: string, owner: OsUser | null, template: string): Promise<void> {
  const staging = `${template}.${process.pid}.tmp`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { mode: 0o700 });
  if (owner) fs.chownSync(staging, owner.uid, owner.gid);
  const args = ['-D', staging, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'];
  try {
    await run(path.join(bin, 'initdb'), args, {
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
      cwd: os.tmpdir(),
    });
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  fs.renameSync(staging, template);
}

/** Deletes instance directories whose test process is gone, stopping a postmaster still running there. */
function sweepStaleInstances(): void {
  const tmp = os.tmpdir();
  for (const entry of fs.readdirSync(tmp)) {
    const match = new RegExp(`^${INSTANCE_PREFIX}(\\d+)-`).exec(entry);
    if (!match || isAlive(Number(match[1]))) continue;
    const dir = path.join(tmp, entry);
    const pidFile = path.join(dir, 'data', 'postmaster.pid');
    const pid = readPid(pidFile);
    if (pid && isPostgres(pid)) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // exited meanwhile
      }
      continue; // its files go on a later sweep, once it has exited
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function readPid(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8').split('\n')[0]) || 0;
  } catch {
    return 0;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isPostgres(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}

async function canConnect(port: number): Promise<boolean> {
  await withClient(port, 'postgres', (c) => c.query('select 1'));
  return true;
}

async function withClient<T>(port: number, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
