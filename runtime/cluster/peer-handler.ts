/**
 * What a pod answers on its peer port: requests forwarded by other pods for
 * channels it owns. Only the channel protocol's topics are reachable.
 */
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { ChannelProtocol } from '../../actors/channel/protocol.js';
import type { LocalChannels } from '../../actors/router.js';
import type { PeerHandler } from '../peer/index.js';
import type { Membership } from './membership.js';

const FORWARDABLE = new Set<keyof ChannelProtocol>([
  'join', 'leave', 'invite', 'kick', 'role', 'send', 'edit', 'delete', 'history',
  'subscribe', 'unsubscribe', 'read', 'who', 'typing', 'follow',
]);

export function forwardHandler(local: LocalChannels, membership: Membership): PeerHandler {
  return {
    async request(_from, op, args) {
      if (op !== 'forward') throw new TertuliaError(ErrorCode.UNKNOWN_OP, `unknown peer op "${op}"`);
      const { channel, topic, arg } = args as { channel: unknown; topic: unknown; arg: unknown };
      if (typeof channel !== 'number' || !Number.isSafeInteger(channel) || channel < 1) {
        throw new TertuliaError(ErrorCode.INVALID_FIELD, 'channel: must be a positive integer');
      }
      if (typeof topic !== 'string' || !FORWARDABLE.has(topic as keyof ChannelProtocol)) {
        throw new TertuliaError(ErrorCode.INVALID_FIELD, 'topic: not a channel operation');
      }
      if (typeof arg !== 'object' || arg === null) throw new TertuliaError(ErrorCode.INVALID_FIELD, 'arg: must be a map');
      // A pod that may have lost its lease must not act as anyone's owner.
      if (!membership.serving) throw new TertuliaError(ErrorCode.NOT_OWNER, 'this pod is not serving channels');
      return local.ask(channel, topic as 'who', arg as never);
    },
    push() {
      // Pushes travel from the accepting side only; nothing is expected here.
    },
  };
}
