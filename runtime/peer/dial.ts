/**
 * Opens one connection to a remote pod and authenticates it: TCP connect,
 * answer the challenge, check the server's proof. Only then does the caller
 * get a PeerConnection, so nothing but the auth request is ever sent to a
 * server that has not proven the secret.
 */
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { encodeFrame } from '../../protocol/codec.js';
import { ClientHandshake } from './auth.js';
import { PeerConnection, type PeerConnectionEvents } from './connection.js';
import { readHandshake } from './handshake.js';
import type { PeerIdentity, PeerLimits } from './wire.js';

export interface DialOptions {
  host: string;
  port: number;
  secret: Buffer;
  self: PeerIdentity;
  /** The pod that must answer. */
  remote: string;
  limits: PeerLimits;
  /** Budget for connect plus handshake. */
  timeoutMs: number;
  log: Logger;
  events: PeerConnectionEvents;
}

/** An attempt under way; `cancel` makes `connection` reject at once. */
export interface Dial {
  connection: Promise<PeerConnection>;
  cancel(): void;
}

export function dialPeer(o: DialOptions): Dial {
  const socket = connect({ host: o.host, port: o.port, noDelay: true });
  socket.on('error', (err) => o.log.debug({ err: err.message }, 'peer socket error'));
  const timer = setTimeout(() => socket.destroy(), o.timeoutMs);
  const connection = new Promise<PeerConnection>((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const onEarlyClose = (): void => fail(new Error('connection closed before the handshake'));
    socket.once('close', onEarlyClose);
    socket.once('connect', () => {
      socket.off('close', onEarlyClose);
      socket.setNoDelay(true);
      const hs = new ClientHandshake(o.secret, o.self, o.remote);
      let answered = false;
      const limits = { maxFrameBytes: o.limits.handshakeFrameBytes, timeoutMs: o.timeoutMs };
      readHandshake(socket, limits, (message) => {
        if (answered) {
          hs.confirm(message);
          return true;
        }
        socket.write(encodeFrame(hs.answer(message)));
        answered = true;
        return false;
      }).then((rest) => {
        clearTimeout(timer);
        // The handshake carries no server incarnation; PeerLinks tracks it from the registry.
        const conn = new PeerConnection({ pod: o.remote, incarnation: 0 }, socket, o.limits, o.log, o.events);
        conn.start(rest);
        resolve(conn);
      }, fail);
    });
  });
  return { connection, cancel: () => socket.destroy() };
}
