/**
 * `tertulia chat [host:port]`: an interactive terminal client. It logs in or
 * registers, then reads commands and text; incoming events print as they
 * arrive, and the client library reconnects and resumes on its own.
 */
import { createInterface } from 'node:readline/promises';
import { TertuliaClient } from '../../protocol/client/index.js';
import { TertuliaError, errorName } from '../../protocol/errors.js';
import { COMMANDS, enter, type ChatContext } from './chat-commands.js';
import { formatMessage, label } from './chat-format.js';

export async function runChat(args: string[]): Promise<number> {
  const target = args.find((a) => !a.startsWith('--')) ?? process.env.TERTULIA_ADDRESS ?? '127.0.0.1:7600';
  const [host = '127.0.0.1', portText = '7600'] = target.includes(':') ? target.split(':') : ['127.0.0.1', target];
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (prompt: string): Promise<string | null> => {
    process.stdout.write(prompt);
    const r = await lines.next();
    return r.done ? null : r.value.trim();
  };
  const print = (line: string) => process.stdout.write(line + '\n');

  const client = new TertuliaClient({ host, port: Number(portText), name: 'tertulia-chat' });
  try {
    await client.connect();
  } catch (err) {
    print(`cannot reach ${host}:${portText}: ${(err as Error).message}`);
    rl.close();
    return 1;
  }
  print(`connected to ${host}:${portText}`);
  const ctx: ChatContext = { client, print, current: null, known: new Map(), quit: () => rl.close() };
  wireEvents(ctx);

  if (!(await signIn(client, ask, print))) {
    await client.close();
    rl.close();
    return 1;
  }
  print('type /help for commands');
  const { channels } = await client.channels();
  for (const c of channels) ctx.known.set(c.id, c);
  const first = channels.find((c) => c.kind !== 'direct');
  if (first) await enter(first, ctx).catch((err) => print(`! ${describe(err)}`));

  for (;;) {
    const line = await ask('');
    if (line === null) break;
    if (line === '') continue;
    try {
      if (line.startsWith('/')) {
        const [name = '', ...rest] = line.slice(1).split(/\s+/);
        const cmd = COMMANDS[name];
        if (!cmd) print(`! unknown command /${name}; try /help`);
        else await cmd.run(rest, ctx, line.slice(1 + name.length).trimStart());
        if (name === 'quit') break;
      } else if (!ctx.current) {
        print('! no current channel: /join or /create one first');
      } else {
        await client.send(ctx.current.id, line);
      }
    } catch (err) {
      print(`! ${describe(err)}`);
    }
  }
  await client.close();
  rl.close();
  return 0;
}

async function signIn(
  client: TertuliaClient,
  ask: (p: string) => Promise<string | null>,
  print: (l: string) => void,
): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const mode = await ask('(l)ogin or (r)egister? ');
    if (mode === null) return false;
    const name = await ask('name: ');
    const password = await ask('password: ');
    if (name === null || password === null) return false;
    try {
      const r = mode.startsWith('r') ? await client.register(name, password) : await client.login(name, password);
      print(`signed in as ${r.name}`);
      return true;
    } catch (err) {
      print(`! ${describe(err)}`);
    }
  }
  return false;
}

function wireEvents(ctx: ChatContext): void {
  const { client, print } = ctx;
  client.on('message', (m) => print(formatMessage(m, ctx.known)));
  client.on('edit', (e) => print(`-- ${label(ctx.known.get(e.channel), e.channel)} [${e.seq}] edited: ${e.body}`));
  client.on('delete', (e) => print(`-- ${label(ctx.known.get(e.channel), e.channel)} [${e.seq}] deleted`));
  client.on('typing', (e) => print(`-- ${e.name} is typing in ${label(ctx.known.get(e.channel), e.channel)}`));
  client.on('presence', (e) => print(`-- ${e.name} is ${e.online ? 'here' : 'away'}`));
  client.on('member', (e) => print(`-- ${e.name} ${e.action}${e.role ? ` (${e.role})` : ''} ${label(ctx.known.get(e.channel), e.channel)}`));
  client.on('error', (err) => print(`! ${describe(err)}`));
  client.on('disconnect', ({ willReconnect }) => print(willReconnect ? '-- connection lost, reconnecting…' : '-- disconnected'));
  client.on('reconnect', () => print('-- reconnected'));
}

function describe(err: unknown): string {
  if (err instanceof TertuliaError) return `${errorName(err.code)}: ${err.message}`;
  return (err as Error)?.message ?? String(err);
}
