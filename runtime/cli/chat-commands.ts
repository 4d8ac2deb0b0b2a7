/**
 * The commands of `tertulia chat`, apart from the terminal plumbing so they
 * read as a table: each takes the words after the command, a context, and
 * the text after the command as typed (for arguments with spaces).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { TertuliaClient } from '../../protocol/client/index.js';
import type { ChannelInfo } from '../../protocol/messages.js';
import { formatBytes, formatMessage, freePath, label, progressPrinter, safeFileName, splitPathArg } from './chat-format.js';

export interface ChatContext {
  client: TertuliaClient;
  print(line: string): void;
  /** The channel plain text goes to. */
  current: ChannelInfo | null;
  /** Channels known by id, for labels. */
  known: Map<number, ChannelInfo>;
  quit(): void;
}

type Command = { usage: string; help: string; run(args: string[], ctx: ChatContext, text: string): Promise<void> };

/** Makes a channel current, subscribing to it and showing its recent history. */
export async function enter(c: ChannelInfo, ctx: ChatContext): Promise<void> {
  ctx.known.set(c.id, c);
  ctx.current = c;
  if (!ctx.client.subscribedChannels().includes(c.id)) {
    const recent = await ctx.client.history(c.id, { limit: 20 });
    for (const m of recent.messages) ctx.print(formatMessage(m, ctx.known));
    await ctx.client.subscribe(c.id, recent.messages.at(-1)?.seq ?? c.lastSeq);
  }
  ctx.print(`-- now in ${label(c)}${c.topic ? `: ${c.topic}` : ''}`);
}

function needChannel(ctx: ChatContext): ChannelInfo {
  if (!ctx.current) throw new Error('no current channel: /join or /create one first');
  return ctx.current;
}

/** Where /download saves: `own` here, the PATH given, or `own` inside the directory given. */
function saveAs(given: string | undefined, own: string): string {
  if (given === undefined) return own;
  return statSync(given, { throwIfNoEntry: false })?.isDirectory() ? join(given, own) : given;
}

export const COMMANDS: Record<string, Command> = {
  help: {
    usage: '/help',
    help: 'this list',
    async run(_a, ctx) {
      for (const c of Object.values(COMMANDS)) ctx.print(`  ${c.usage.padEnd(26)} ${c.help}`);
      ctx.print('  anything else is sent to the current channel');
    },
  },
  create: {
    usage: '/create NAME [private]',
    help: 'create a channel and enter it',
    async run([name, kind], ctx) {
      if (!name) throw new Error('usage: /create NAME [private]');
      const { channel } = await ctx.client.create(name, kind === 'private' ? 'private' : 'public');
      await enter(channel, ctx);
    },
  },
  join: {
    usage: '/join NAME',
    help: 'join a channel and enter it',
    async run([name], ctx) {
      if (!name) throw new Error('usage: /join NAME');
      const { channel } = await ctx.client.join(/^\d+$/.test(name) ? Number(name) : name.replace(/^#/, ''));
      await enter(channel, ctx);
    },
  },
  dm: {
    usage: '/dm USER',
    help: 'open a direct channel and enter it',
    async run([name], ctx) {
      if (!name) throw new Error('usage: /dm USER');
      await enter((await ctx.client.direct(name)).channel, ctx);
    },
  },
  invite: {
    usage: '/invite USER',
    help: 'invite a user to the current channel',
    async run([name], ctx) {
      if (!name) throw new Error('usage: /invite USER');
      await ctx.client.invite(needChannel(ctx).id, name);
      ctx.print(`-- invited ${name}`);
    },
  },
  kick: {
    usage: '/kick USER',
    help: 'remove a user from the current channel',
    async run([name], ctx) {
      if (!name) throw new Error('usage: /kick USER');
      await ctx.client.kick(needChannel(ctx).id, name);
    },
  },
  leave: {
    usage: '/leave',
    help: 'leave the current channel',
    async run(_a, ctx) {
      const c = needChannel(ctx);
      await ctx.client.leave(c.id);
      await ctx.client.unsubscribe(c.id).catch(() => {});
      ctx.current = null;
      ctx.print(`-- left ${label(c)}`);
    },
  },
  history: {
    usage: '/history [N]',
    help: 'show the last N messages (default 20)',
    async run([n], ctx) {
      const c = needChannel(ctx);
      const { messages } = await ctx.client.history(c.id, { limit: Math.min(Number(n) || 20, 200) });
      for (const m of messages) ctx.print(formatMessage(m, ctx.known));
    },
  },
  who: {
    usage: '/who',
    help: 'members of the current channel',
    async run(_a, ctx) {
      const { members } = await ctx.client.who(needChannel(ctx).id);
      for (const m of members) ctx.print(`  ${m.online ? '*' : ' '} ${m.name} (${m.role})`);
    },
  },
  channels: {
    usage: '/channels',
    help: 'your channels with unread counts',
    async run(_a, ctx) {
      const { channels } = await ctx.client.channels();
      for (const c of channels) {
        ctx.known.set(c.id, c);
        ctx.print(`  ${label(c).padEnd(24)} ${c.unread ? `${c.unread} unread` : ''}`);
      }
    },
  },
  find: {
    usage: '/find PREFIX',
    help: 'public channels by name',
    async run([prefix = ''], ctx) {
      const { channels } = await ctx.client.find(prefix);
      for (const c of channels) ctx.print(`  ${label(c)}${c.topic ? ` - ${c.topic}` : ''}`);
    },
  },
  edit: {
    usage: '/edit SEQ TEXT',
    help: 'edit one of your messages',
    async run([seq, ...words], ctx) {
      if (!seq || words.length === 0) throw new Error('usage: /edit SEQ TEXT');
      await ctx.client.edit(needChannel(ctx).id, Number(seq), words.join(' '));
    },
  },
  delete: {
    usage: '/delete SEQ',
    help: 'delete one of your messages',
    async run([seq], ctx) {
      if (!seq) throw new Error('usage: /delete SEQ');
      await ctx.client.delete(needChannel(ctx).id, Number(seq));
    },
  },
  upload: {
    usage: '/upload PATH [TEXT]',
    help: 'send a file (and TEXT) to the current channel',
    async run(_a, ctx, text) {
      const arg = splitPathArg(text);
      if (!arg) throw new Error('usage: /upload PATH [TEXT] (quote a PATH with spaces: "my file.png")');
      const c = needChannel(ctx);
      const progress = progressPrinter(`uploading ${basename(arg.path)}`, ctx.print);
      const attachment = await ctx.client.uploadFile(arg.path, { onProgress: progress });
      await ctx.client.send(c.id, arg.rest, undefined, { attachments: [attachment.id] });
    },
  },
  download: {
    usage: '/download ID [PATH]',
    help: 'save an attachment (default: its own name, here)',
    async run(_a, ctx, text) {
      const arg = splitPathArg(text);
      if (!arg) throw new Error('usage: /download ID [PATH]');
      const info = await ctx.client.attachmentInfo(arg.path);
      const own = safeFileName(info.name) ?? info.id;
      const path = freePath(saveAs(splitPathArg(arg.rest)?.path, own), existsSync);
      await ctx.client.downloadTo(info.id, path, { onProgress: progressPrinter(`downloading ${own}`, ctx.print) });
      ctx.print(`-- saved ${own} (${formatBytes(info.size)}) as ${path}`);
    },
  },
  read: {
    usage: '/read',
    help: 'mark the current channel read',
    async run(_a, ctx) {
      const c = needChannel(ctx);
      await ctx.client.read(c.id, ctx.client.lastDelivered(c.id) ?? c.lastSeq);
    },
  },
  quit: {
    usage: '/quit',
    help: 'leave the chat',
    async run(_a, ctx) {
      ctx.quit();
    },
  },
};
