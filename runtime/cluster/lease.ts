/**
 * A registry call made by a pod whose lease is gone (expired, deregistered, or
 * replaced by a newer incarnation). The pod must stop serving and register
 * again; claiming on a dead lease would hand out a claim no one can see as live.
 */
export class LeaseLostError extends Error {
  readonly pod: string;
  readonly incarnation: number;
  constructor(pod: string, incarnation: number) {
    super(`pod ${pod} (incarnation ${incarnation}) has no live lease`);
    this.name = 'LeaseLostError';
    this.pod = pod;
    this.incarnation = incarnation;
  }
}

/** Redis's PX and the local clock both want a whole, positive number of ms. */
export function checkLeaseMs(leaseMs: number): void {
  if (!Number.isInteger(leaseMs) || leaseMs <= 0) throw new RangeError(`leaseMs must be a positive integer, got ${leaseMs}`);
}
