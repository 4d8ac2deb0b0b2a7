/**
 * The unmeasured part: users registered, channels created, every user a member
 * of one channel (round-robin). Each user's token is kept so the measured
 * connect phase is a resume (hello + auth), not a password check.
 */
import { TertuliaClient } from '../protocol/client/index.js';
import { inParallel } from './concurrency.js';

export interface Population {
  users: { name: string; token: string; channel: number }[];
  channels: number[];
}

const PASSWORD = 'bench-password-1';
const WIDTH = 50;

export async function populate(host: string, port: number, clients: number, channels: number, tag: string): Promise<Population> {
  const owner = await registered(host, port, `${tag}owner`);
  let ids: number[];
  try {
    ids = await inParallel(
      Array.from({ length: channels }, (_, i) => i),
      10,
      async (i) => (await owner.client.create(`${tag}c${i}`, 'public')).channel.id,
    );
  } finally {
    await owner.client.close();
  }
  const users = await inParallel(Array.from({ length: clients }, (_, i) => i), WIDTH, async (i) => {
    const u = await registered(host, port, `${tag}u${i}`);
    try {
      const channel = ids[i % ids.length]!;
      await u.client.join(channel);
      return { name: u.name, token: u.token, channel };
    } finally {
      await u.client.close();
    }
  });
  return { users, channels: ids };
}

async function registered(host: string, port: number, name: string): Promise<{ client: TertuliaClient; name: string; token: string }> {
  const client = new TertuliaClient({ host, port, reconnect: false, requestTimeoutMs: 30_000 });
  try {
    await client.connect();
    const r = await client.register(name, PASSWORD);
    return { client, name: r.name, token: r.token };
  } catch (err) {
    await client.close();
    throw err;
  }
}
