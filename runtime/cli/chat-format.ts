/**
 * What `tertulia chat` prints and the names it saves files under: pure
 * functions of their arguments, apart from the terminal and the file system.
 */
import { basename, dirname, extname, join } from 'node:path';
import type { AttachmentView, ChannelInfo, MessageView } from '../../protocol/messages.js';

/** `#name`, `@peer` for a direct channel, or `#id` for a channel not known yet. */
export function label(c: ChannelInfo | undefined, id?: number): string {
  if (!c) return `#${id}`;
  return c.kind === 'direct' ? `@${c.peer ?? 'direct'}` : `#${c.name}`;
}

/**
 * One message: `HH:MM #channel [seq] from: body`. Attachments follow, one a
 * line, indented; with an empty body the first takes the body's place.
 */
export function formatMessage(m: MessageView, known: ReadonlyMap<number, ChannelInfo>): string {
  const time = new Date(m.ts).toTimeString().slice(0, 5);
  const head = `${time} ${label(known.get(m.channel), m.channel)} [${m.seq}] ${m.from}:`;
  if (m.deleted) return `${head} (deleted)`;
  const files = (m.attachments ?? []).map(formatAttachment);
  const edited = m.edited ? ' (edited)' : '';
  if (m.body === '' && files.length > 0) {
    return [`${head} ${files[0]}${edited}`, ...files.slice(1).map((f) => `    ${f}`)].join('\n');
  }
  return [`${head} ${m.body}${edited}`, ...files.map((f) => `    ${f}`)].join('\n');
}

/** `📎 name (1.2 MiB) id`. */
export function formatAttachment(a: AttachmentView): string {
  return `📎 ${a.name} (${formatBytes(a.size)}) ${a.id}`;
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** A byte count for people: `512 B`, `1.5 KiB`, `12 MiB` (one decimal below 10). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let v = n;
  let unit = '';
  for (const u of UNITS) {
    v /= 1024;
    unit = u;
    if (v < 1024) break;
  }
  // 9.96 would round to "10.0": such values take the integer form.
  return v < 9.95 ? `${v.toFixed(1)} ${unit}` : `${Math.round(v)} ${unit}`;
}

/** The completed step of a transfer, in percent rounded down to a multiple of `step` (0 for an empty one). */
export function progressMark(done: number, total: number, step = 25): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  const pct = Math.min(100, Math.floor((done / total) * 100));
  return pct - (pct % step);
}

/**
 * A progress listener printing `-- <what>: N % of SIZE` each time the transfer
 * completes another `step` percent (so at most 100/step lines, none at 0 %).
 */
export function progressPrinter(what: string, print: (line: string) => void, step = 25): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const mark = progressMark(done, total, step);
    if (mark < last) last = 0; // a restarted transfer
    if (mark === 0 || mark === last) return;
    last = mark;
    print(`-- ${what}: ${mark} % of ${formatBytes(total)}`);
  };
}

/**
 * A file name from the server made safe to save in the current directory: its
 * last path component (splitting on "/" and "\"), without control characters,
 * trimmed; null when nothing usable is left ("", ".", "..").
 */
export function safeFileName(name: string): string | null {
  const last = basename(name.replace(/\\/g, '/'));
  const clean = last.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
  return clean === '' || clean === '.' || clean === '..' ? null : clean;
}

/**
 * `path` if nothing is there, else the first of `name (1).ext`, `name (2).ext`,
 * … beside it that is free, per `exists`.
 */
export function freePath(path: string, exists: (p: string) => boolean): string {
  if (!exists(path)) return path;
  const dir = dirname(path);
  const file = basename(path);
  const ext = extname(file);
  const stem = file.slice(0, file.length - ext.length);
  for (let i = 1; ; i++) {
    const candidate = join(dir, `${stem} (${i})${ext}`);
    if (!exists(candidate)) return candidate;
  }
}

/**
 * Splits `PATH rest…` where PATH may be double-quoted to hold spaces
 * (`"my file.png" look at this`); `rest` keeps its spacing, minus the
 * leading blanks. Null when there is no path.
 */
export function splitPathArg(line: string): { path: string; rest: string } | null {
  const s = line.trimStart();
  if (s.startsWith('"')) {
    const end = s.indexOf('"', 1);
    if (end <= 1) return null;
    return { path: s.slice(1, end), rest: s.slice(end + 1).trimStart() };
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(s);
  return m ? { path: m[1]!, rest: m[2]! } : null;
}
