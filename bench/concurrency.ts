/** Small async helpers: bounded parallelism and phase deadlines. */

/** Runs `fn` over `items`, at most `width` at a time; resolves with results in order. */
export async function inParallel<T, R>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

/**
 * Starts `fn` for item i at i / perSec seconds from now (open loop: a late
 * item does not delay the next), then waits for all. Timers fire no more
 * often than every few ms, so items due in between start together.
 */
export async function arrive<T>(items: readonly T[], perSec: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  const started: Promise<void>[] = [];
  const t0 = performance.now();
  while (started.length < items.length) {
    const due = Math.min(items.length, Math.floor(((performance.now() - t0) * perSec) / 1000) + 1);
    while (started.length < due) started.push(fn(items[started.length]!, started.length));
    if (started.length < items.length) await sleep(Math.max(1, (started.length * 1000) / perSec - (performance.now() - t0)));
  }
  await Promise.all(started);
}

export class PhaseTimeout extends Error {
  constructor(phase: string, ms: number) {
    super(`${phase} did not finish within ${Math.round(ms / 1000)} s`);
    this.name = 'PhaseTimeout';
  }
}

/** Rejects with PhaseTimeout after `ms`; the work itself is not cancelled, so callers stop it through their own cleanup. */
export function withTimeout<T>(phase: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PhaseTimeout(phase, ms)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
