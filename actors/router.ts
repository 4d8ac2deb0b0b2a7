import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import type { ChannelClaims, Store } from '../runtime/ports.js';
import type { ActorKernel, Arg, Res, Topic } from './kernel.js';
import { ActorDirectory } from './directory.js';
import { ChannelActor, type ChannelDeps } from './channel/channel-actor.js';
import type { ChannelProtocol } from './channel/protocol.js';

/** Reaches a channel's actor wherever it lives. */
export interface ChannelRouter {
  ask<K extends Topic<ChannelProtocol>>(channel: number, topic: K, arg: Arg<ChannelProtocol, K>): Promise<Res<ChannelProtocol, K>>;
}

export type LocalChannels = ActorDirectory<ChannelProtocol>;

/**
 * The channel actors of this pod. A channel is activated only after this pod
 * claimed it; a channel id unknown to the store is answered without
 * activating anything; a passivated channel's claim is released.
 */
export function localChannels(
  kernel: ActorKernel,
  store: Store,
  claims: ChannelClaims,
  deps: Omit<ChannelDeps, 'stopped'>,
  opts: { maxActors: number },
  log: Logger,
): LocalChannels {
  return new ActorDirectory<ChannelProtocol>(
    'channel',
    kernel,
    async (id, stopped) => {
      if (!(await store.getChannel(id))) throw new TertuliaError(ErrorCode.NO_SUCH_CHANNEL, 'no such channel');
      const claim = await claims.acquire(id);
      const release = () => {
        stopped();
        claims.release(id).catch((err) => log.debug({ err, channel: id }, 'release failed'));
      };
      return () => new ChannelActor(id, { ...deps, stopped: release }, claim.epoch);
    },
    { ...opts, notOwnerMeansGone: true },
    log,
  );
}
