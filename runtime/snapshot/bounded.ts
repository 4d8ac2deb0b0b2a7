/**
 * Bounded concurrency for restore: a few workers over a queue, and a
 * read-ahead window that keeps results in input order.
 */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. After a failure
 * no new item starts; it waits for the calls in flight, then throws the first
 * error, so nothing is left running when it returns.
 */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/**
 * Yields `fn(item)` for each item in order, with up to `window` calls started
 * ahead of the consumer. Calls already started when the consumer stops still
 * run to completion; their failures are not reported twice.
 */
export async function* readAhead<T, R>(items: readonly T[], window: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  let next = 0;
  const start = (): void => {
    const p = fn(items[next++]!);
    // Awaited in order below; this only keeps an early failure from being "unhandled".
    p.catch(() => {});
    pending.push(p);
  };
  while (next < items.length && pending.length < window) start();
  while (pending.length > 0) {
    const result = await pending.shift()!;
    if (next < items.length) start();
    yield result;
  }
}
