/** A server address. */
export interface ServerAddress {
  host: string;
  port: number;
}

const ADDRESS = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/;

/**
 * The servers of one cluster a client knows: where to connect now, the next
 * one to try after a failed attempt, and those a draining server names.
 */
export class ServerList {
  private readonly list: ServerAddress[];
  private index = 0;

  constructor(first: ServerAddress, alternates: readonly ServerAddress[] = []) {
    this.list = [first, ...alternates];
  }

  /** Where the next connection attempt goes. */
  get current(): ServerAddress {
    return this.list[this.index]!;
  }

  /** After a failed attempt: the next known server. */
  advance(): void {
    this.index = (this.index + 1) % this.list.length;
  }

  /** A `move` event's `host:port` strings: remembered, and one picked at random (to spread the load) as current. */
  moveTo(servers: unknown, random: () => number): void {
    if (!Array.isArray(servers)) return;
    const parsed = servers.flatMap((s) => {
      const m = typeof s === 'string' ? ADDRESS.exec(s) : null;
      return m ? [{ host: (m[1] ?? m[2])!, port: Number(m[3]) }] : [];
    });
    if (parsed.length === 0) return;
    const same = (a: ServerAddress, b: ServerAddress) => a.host === b.host && a.port === b.port;
    for (const a of parsed) if (!this.list.some((k) => same(k, a))) this.list.push(a);
    const pick = parsed[Math.floor(random() * parsed.length)]!;
    this.index = this.list.findIndex((k) => same(k, pick));
  }
}
