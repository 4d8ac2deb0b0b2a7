import test from 'ava';
import { join } from 'node:path';
import type { AttachmentView, ChannelInfo, MessageView } from '../../protocol/messages.js';
import {
  formatAttachment,
  formatBytes,
  formatMessage,
  freePath,
  label,
  progressMark,
  progressPrinter,
  safeFileName,
  splitPathArg,
} from '../../runtime/cli/chat-format.js';

const room: ChannelInfo = { id: 7, name: 'room', kind: 'public', topic: '', lastSeq: 3 };
const known = new Map([[7, room]]);
const ts = Date.UTC(2025, 0, 2, 10, 30);
const time = new Date(ts).toTimeString().slice(0, 5);
const photo: AttachmentView = { id: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'photo.png', type: 'image/png', size: 1258291, sha256: 'a'.repeat(64) };
const notes: AttachmentView = { id: 'BBBBBBBBBBBBBBBBBBBBBB', name: 'notes.txt', type: 'text/plain', size: 300, sha256: 'b'.repeat(64) };

function message(over: Partial<MessageView>): MessageView {
  return { channel: 7, seq: 3, sender: 1, from: 'ana', body: 'hola', ts, cmid: 'c1', ...over };
}

test('formatBytes: bytes, then binary units with one decimal below 10', (t) => {
  t.is(formatBytes(0), '0 B');
  t.is(formatBytes(1023), '1023 B');
  t.is(formatBytes(1024), '1.0 KiB');
  t.is(formatBytes(1536), '1.5 KiB');
  t.is(formatBytes(1258291), '1.2 MiB');
  t.is(formatBytes(12 * 1024 * 1024), '12 MiB');
  t.is(formatBytes(10239), '10 KiB', 'no "10.0"');
  t.is(formatBytes(1023 * 1024), '1023 KiB');
  t.is(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  t.is(formatBytes(2 * 1024 ** 5), '2048 TiB');
});

test('formatAttachment: clip, name, size and id', (t) => {
  t.is(formatAttachment(photo), '📎 photo.png (1.2 MiB) AAAAAAAAAAAAAAAAAAAAAA');
});

test('formatMessage: a message without attachments is one line, as before', (t) => {
  t.is(formatMessage(message({}), known), `${time} #room [3] ana: hola`);
  t.is(formatMessage(message({ edited: ts }), known), `${time} #room [3] ana: hola (edited)`);
  t.is(formatMessage(message({ body: '', deleted: true }), known), `${time} #room [3] ana: (deleted)`);
  t.is(formatMessage(message({ channel: 9 }), known), `${time} #9 [3] ana: hola`);
});

test('formatMessage: attachments follow the body, one a line', (t) => {
  t.is(
    formatMessage(message({ attachments: [photo, notes] }), known),
    [`${time} #room [3] ana: hola`, `    ${formatAttachment(photo)}`, `    ${formatAttachment(notes)}`].join('\n'),
  );
});

test('formatMessage: with an empty body the first attachment takes its place', (t) => {
  t.is(formatMessage(message({ body: '', attachments: [photo] }), known), `${time} #room [3] ana: ${formatAttachment(photo)}`);
  t.is(
    formatMessage(message({ body: '', attachments: [photo, notes] }), known),
    [`${time} #room [3] ana: ${formatAttachment(photo)}`, `    ${formatAttachment(notes)}`].join('\n'),
  );
});

test('label: public, direct and unknown channels', (t) => {
  t.is(label(room), '#room');
  t.is(label({ ...room, kind: 'direct', name: null, peer: 'bea' }), '@bea');
  t.is(label(undefined, 12), '#12');
});

test('safeFileName keeps the last component and refuses names that leave the directory', (t) => {
  t.is(safeFileName('photo.png'), 'photo.png');
  t.is(safeFileName('../../etc/passwd'), 'passwd');
  t.is(safeFileName('/etc/passwd'), 'passwd');
  t.is(safeFileName('..\\..\\boot.ini'), 'boot.ini');
  t.is(safeFileName('dir/'), 'dir');
  t.is(safeFileName('a\u0000b\u001b[31m.txt'), 'ab[31m.txt');
  t.is(safeFileName('  spaced out.txt  '), 'spaced out.txt');
  t.is(safeFileName('.bashrc'), '.bashrc');
  for (const bad of ['', '.', '..', '/', '../', 'a/..', '..\\', ' . ', '\u0007']) t.is(safeFileName(bad), null, JSON.stringify(bad));
});

test('freePath appends " (n)" before the extension until the name is free', (t) => {
  const taken = new Set(['photo.png', 'photo (1).png', join('dir', 'notes.txt'), '.bashrc', 'README']);
  const exists = (p: string) => taken.has(p);
  t.is(freePath('new.png', exists), 'new.png');
  t.is(freePath('photo.png', exists), 'photo (2).png');
  t.is(freePath(join('dir', 'notes.txt'), exists), join('dir', 'notes (1).txt'));
  t.is(freePath('.bashrc', exists), '.bashrc (1)');
  t.is(freePath('README', exists), 'README (1)');
  t.is(freePath('archive.tar.gz', (p) => p === 'archive.tar.gz'), 'archive.tar (1).gz');
});

test('splitPathArg: a word or a double-quoted path, then the rest as typed', (t) => {
  t.deepEqual(splitPathArg('a.png'), { path: 'a.png', rest: '' });
  t.deepEqual(splitPathArg('  a.png  look  at this '), { path: 'a.png', rest: 'look  at this ' });
  t.deepEqual(splitPathArg('"my file.png" hi there'), { path: 'my file.png', rest: 'hi there' });
  t.deepEqual(splitPathArg('"my file.png"'), { path: 'my file.png', rest: '' });
  t.is(splitPathArg(''), null);
  t.is(splitPathArg('   '), null);
  t.is(splitPathArg('"unterminated'), null);
  t.is(splitPathArg('""'), null);
});

test('progressMark rounds down to the step', (t) => {
  t.is(progressMark(0, 100), 0);
  t.is(progressMark(24, 100), 0);
  t.is(progressMark(25, 100), 25);
  t.is(progressMark(99, 100), 75);
  t.is(progressMark(100, 100), 100);
  t.is(progressMark(150, 100), 100);
  t.is(progressMark(0, 0), 0);
  t.is(progressMark(1, 3, 10), 30);
});

test('progressPrinter prints each quarter once, none at 0 %, and again after a restart', (t) => {
  const lines: string[] = [];
  const p = progressPrinter('uploading a.bin', (l) => lines.push(l));
  const total = 4 * 1024 * 1024;
  for (let done = 0; done <= total; done += 256 * 1024) p(done, total);
  t.deepEqual(lines, [25, 50, 75, 100].map((n) => `-- uploading a.bin: ${n} % of 4.0 MiB`));
  lines.length = 0;
  p(0, total);
  p(total, total);
  t.deepEqual(lines, ['-- uploading a.bin: 100 % of 4.0 MiB']);
});

test('progressPrinter: a small file in one chunk prints one line', (t) => {
  const lines: string[] = [];
  const p = progressPrinter('downloading b.txt', (l) => lines.push(l));
  p(0, 300);
  p(300, 300);
  t.deepEqual(lines, ['-- downloading b.txt: 100 % of 300 B']);
});
