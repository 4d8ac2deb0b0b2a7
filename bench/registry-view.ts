/**
 * What the bench reads from the cluster's Redis (read only): who holds a
 * channel (hash `{prefix}owner:{channel}`, field `pod`) and which pods are live
 * (hash `{prefix}pods` whose lease key `{prefix}lease:{pod}` holds the entry's incarnation).
 */
import { Redis } from 'ioredis';

export interface RegistryView {
  owner(channel: number): Promise<string | null>;
  owners(channels: readonly number[]): Promise<Map<number, string | null>>;
  livePods(): Promise<string[]>;
  close(): void;
}

export function openRegistryView(url: string, prefix: string): RegistryView {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  redis.on('error', () => {});
  const owner = (channel: number): Promise<string | null> => redis.hget(`${prefix}owner:${channel}`, 'pod');
  return {
    owner,
    async owners(channels) {
      const pipe = redis.pipeline();
      for (const ch of channels) pipe.hget(`${prefix}owner:${ch}`, 'pod');
      const replies = (await pipe.exec()) ?? [];
      return new Map(channels.map((ch, i) => [ch, (replies[i]?.[1] as string | null) ?? null]));
    },
    async livePods() {
      const entries = await redis.hgetall(`${prefix}pods`);
      const live: string[] = [];
      for (const [id, json] of Object.entries(entries)) {
        const lease = await redis.get(`${prefix}lease:${id}`);
        if (lease !== null && Number(lease) === (JSON.parse(json) as { incarnation: number }).incarnation) live.push(id);
      }
      return live.sort();
    },
    close: () => redis.disconnect(),
  };
}
