/**
 * Reads the handshake off a socket that is not yet trusted. Frames are capped
 * small and the exchange has a deadline, so an unauthenticated connection
 * costs a few KiB for a few seconds at most. The regular FrameDecoder is not
 * used here: its cap is fixed at construction, and the bytes that follow the
 * last handshake frame (a server may pipeline pushes right after its proof)
 * must reach the authenticated decoder untouched.
 */
import type { Socket } from 'node:net';
import { decode } from '../../protocol/codec.js';
import { FRAME_HEADER_BYTES } from '../../protocol/frame.js';
import { PeerAuthError } from './auth.js';

export interface HandshakeLimits {
  maxFrameBytes: number;
  timeoutMs: number;
}

/**
 * Feeds each handshake message to `step` until it returns true. Resolves with
 * the bytes received after that message, leaving the socket paused and free
 * of the listeners added here; rejects with PeerAuthError on an oversized or
 * undecodable frame, a `step` that throws, the deadline, or the socket closing.
 */
export function readHandshake(
  socket: Socket,
  limits: HandshakeLimits,
  step: (message: unknown) => boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | null, rest?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(rest!);
    };
    const onClose = (): void => finish(new PeerAuthError('closed during the handshake'));
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        while (!settled && buf.length >= FRAME_HEADER_BYTES) {
          const length = buf.readUInt32BE(0);
          if (length > limits.maxFrameBytes) {
            throw new PeerAuthError(`handshake frame of ${length} bytes exceeds ${limits.maxFrameBytes}`);
          }
          const end = FRAME_HEADER_BYTES + length;
          if (buf.length < end) return;
          let message: unknown;
          try {
            message = decode(buf.subarray(FRAME_HEADER_BYTES, end));
          } catch {
            throw new PeerAuthError('undecodable handshake frame');
          }
          buf = buf.subarray(end);
          if (step(message)) finish(null, buf);
        }
      } catch (err) {
        finish(err instanceof Error ? err : new PeerAuthError(String(err)));
      }
    };
    const timer = setTimeout(
      () => finish(new PeerAuthError(`no handshake within ${limits.timeoutMs} ms`)),
      limits.timeoutMs,
    );
    socket.on('data', onData);
    socket.on('close', onClose);
    if (socket.destroyed) onClose();
  });
}
