import { createServer } from 'node:net';

/**
 * A loopback port that was free a moment ago. Servers that cannot listen on
 * port 0 and report back (postgres, redis-server) need one chosen for them; the
 * port can be taken between this call and their bind, so callers retry on
 * EADDRINUSE.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
