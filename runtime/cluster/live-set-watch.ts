/**
 * The watch loop both registries share: compare the live set with the last one
 * seen and call `onChange` on any difference. Pushed hints (pub/sub, local
 * register/deregister) only trigger an early check, so a lost hint, a lease that
 * simply ran out, or a burst of hints all end in the same single comparison.
 */
import type { PodInfo } from '../ports.js';

export interface LiveSetWatch {
  /** Checks soon; overlapping requests collapse into one more check. */
  poke(): void;
  stop(): void;
}

/** id and incarnation: a restarted pod counts as a change even under the same id. */
export const liveSetKey = (pods: readonly PodInfo[]): string => pods.map((p) => `${p.id}#${p.incarnation}`).join(',');

export async function watchLiveSet(
  livePods: () => Promise<PodInfo[]>,
  onChange: () => void,
  checkEveryMs: number,
  onError: (err: unknown) => void,
): Promise<LiveSetWatch> {
  if (!(checkEveryMs > 0)) throw new RangeError(`checkEveryMs must be positive, got ${checkEveryMs}`);
  let last = liveSetKey(await livePods());
  let stopped = false;
  let running = false;
  let again = false;

  const check = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        let key: string;
        try {
          key = liveSetKey(await livePods());
        } catch (err) {
          // The next tick retries; the registry being unreachable is not a membership change.
          if (!stopped) onError(err);
          continue;
        }
        if (stopped || key === last) continue;
        last = key;
        try {
          onChange();
        } catch (err) {
          onError(err);
        }
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };

  const timer = setInterval(() => void check(), checkEveryMs);
  // A watch alone must not keep the process alive after everything else closed.
  timer.unref();
  return {
    poke: () => {
      if (!stopped) void check();
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
