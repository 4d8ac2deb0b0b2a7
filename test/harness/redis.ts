/**
 * A private redis-server per caller on a free loopback port, with persistence
 * off. Stopped by its PID; a reaper stops it if the test process dies first.
 */
import { createConnection } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { startService, waitUntil, type Service } from './process.js';

export interface PrivateRedis {
  host: string;
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  /** The server process's PID, for fault tests (SIGSTOP/SIGCONT). */
  pid: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<PrivateRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tertulia-redis-${process.pid}-`));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const service = startService(
      process.env.REDIS_SERVER ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
      { reapSignal: 'SIGTERM' },
    );
    try {
      await waitUntil(service, () => ping(port), `redis-server on port ${port}`, 10_000);
    } catch (err) {
      await service.stop('SIGKILL');
      // Lost the port to another process between freePort() and bind: try another.
      if (/already in use/i.test(service.output())) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return running(service, port, dir);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error('redis-server: no free port after 5 attempts');
}

function running(service: Service, port: number, dir: string): PrivateRedis {
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: service.child.pid ?? 0,
    async stop() {
      // A stopped (SIGSTOP) server would never act on SIGTERM.
      if (service.child.pid) {
        try {
          process.kill(service.child.pid, 'SIGCONT');
        } catch {
          // already gone
        }
      }
      await service.stop('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True once the server answers PING with PONG (inline command, no client library). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
