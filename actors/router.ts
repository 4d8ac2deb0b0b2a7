import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../protocol/errors.js';
import type { Store } from '../runtime/ports.js';
import type { ActorKernel } from './kernel.js';
import { ActorDirectory } from './directory.js';
import { ChannelActor, type ChannelDeps } from './channel/channel-actor.js';
import type { ChannelProtocol } from './channel/protocol.js';

/**
 * Finds the actor of a channel. In a single pod every channel lives here;
 * a channel id unknown to the store is answered without activating anything.
 */
export function channelRouter(
  kernel: ActorKernel,
  store: Store,
  deps: Omit<ChannelDeps, 'stopped'>,
  opts: { maxActors: number },
  log: Logger,
): ChannelRouter {
  return new ActorDirectory<ChannelProtocol>(
    'channel',
    kernel,
    async (id, stopped) => {
      if (!(await store.getChannel(id))) throw new TertuliaError(ErrorCode.NO_SUCH_CHANNEL, 'no such channel');
      return () => new ChannelActor(id, { ...deps, stopped });
    },
    opts,
    log,
  );
}

export type ChannelRouter = ActorDirectory<ChannelProtocol>;
