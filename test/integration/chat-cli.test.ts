import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningNode } from '../../runtime/node.js';
import { eventually, startPod, user, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);
let node: RunningNode;

test.before(async () => {
  node = await startPod({ databaseUrl: await (await pg()).createDatabase() });
});
test.after.always(async () => {
  await node?.stop();
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Terminal {
  child: ChildProcess;
  /** Everything printed so far (stdout). */
  output(): string;
  /** Types one line. */
  type(line: string): void;
  /** Waits until output printed after `from` (an offset into output()) matches `re`; returns the match. */
  expect(re: RegExp, from?: number, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

/** Runs `tertulia chat` as a child process with piped stdin/stdout; killed by its PID if still running at the end. */
function terminal(t: ExecutionContext, address: string): Terminal {
  const child = spawn(process.execPath, ['bin/tertulia.js', 'chat', address], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
  });
  return {
    child,
    output: () => out,
    type: (line) => child.stdin!.write(line + '\n'),
    async expect(re, from = 0, ms = 20000) {
      let m: RegExpMatchArray | null = null;
      try {
        await eventually(() => (m = out.slice(from).match(re)) !== null, ms, `${re}`);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- stdout ---\n${out}\n--- stderr ---\n${err}`);
      }
      return m!;
    },
    exited,
  };
}

test('a person chats from the terminal: signs up, creates a room, talks, sees others, quits', async (t) => {
  const name = `term${process.pid}`;
  const term = terminal(t, `127.0.0.1:${node.port}`);
  await term.expect(/connected to 127\.0\.0\.1:\d+/);
  await term.expect(/\(l\)ogin or \(r\)egister\? $/);
  term.type('r');
  await term.expect(/name: $/);
  term.type(name);
  await term.expect(/password: $/);
  term.type('correct horse battery');
  await term.expect(new RegExp(`signed in as ${name}\\n`));
  await term.expect(/type \/help for commands/);

  let mark = term.output().length;
  term.type('/create room-x');
  await term.expect(/-- now in #room-x/, mark);

  mark = term.output().length;
  term.type('hello from the terminal');
  await term.expect(new RegExp(`\\d\\d:\\d\\d #room-x \\[1\\] ${name}: hello from the terminal\\n`), mark);

  // Someone else, through the client library, joins and talks; the terminal shows it as it arrives.
  const other = await user(t, node, 'visitor');
  const { channel } = await other.join('room-x');
  t.is(channel.lastSeq, 1);
  mark = term.output().length;
  t.is((await other.send(channel.id, 'hola desde el test ¿qué tal?')).seq, 2);
  await term.expect(new RegExp(`-- ${other.name} joined \\(member\\) #room-x`));
  await term.expect(new RegExp(`#room-x \\[2\\] ${other.name}: hola desde el test ¿qué tal\\?\\n`), mark);
  const [cliMessage] = (await other.history(channel.id)).messages;
  t.is(cliMessage!.from, name);
  t.is(cliMessage!.body, 'hello from the terminal');

  mark = term.output().length;
  term.type('/who');
  await term.expect(new RegExp(`\\* ${name} \\(owner\\)`), mark);
  await term.expect(new RegExp(` {3}${other.name} \\(member\\)`), mark);

  mark = term.output().length;
  term.type('/history');
  const history = await term.expect(/\[1\] [^\n]*\n[^\n]*\[2\] [^\n]*\n/, mark);
  t.regex(history[0], /hello from the terminal[\s\S]*hola desde el test/);

  // Files: the terminal uploads one with a line of text; the other side downloads it, and the other way round.
  const dir = mkdtempSync(join(tmpdir(), 'tertulia-chat-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const photo = randomBytes(600 * 1024);
  writeFileSync(join(dir, 'beach photo.png'), photo);
  mark = term.output().length;
  term.type(`/upload "${join(dir, 'beach photo.png')}" look at this`);
  await term.expect(/-- uploading beach photo\.png: 100 % of 600 KiB/, mark);
  const shown = await term.expect(/\[3\] [^\n]*: look at this\n {4}📎 beach photo\.png \(600 KiB\) ([A-Za-z0-9_-]{22})\n/, mark);
  const got = await other.download(shown[1]!);
  t.like(got.attachment, { name: 'beach photo.png', type: 'image/png', size: photo.length });
  t.true(got.data.equals(photo), 'the bytes the terminal sent');

  const notes = Buffer.from('notas del visitante ✓\n');
  const file = await other.upload(notes, { name: 'notes.txt', type: 'text/plain' });
  mark = term.output().length;
  await other.send(channel.id, '', undefined, { attachments: [file.id] });
  await term.expect(new RegExp(`\\[4\\] ${other.name}: 📎 notes\\.txt \\(${notes.length} B\\) ${file.id}\\n`), mark);
  term.type(`/download ${file.id} ${dir}`);
  await term.expect(new RegExp(`-- saved notes\\.txt \\(${notes.length} B\\) as ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/notes\\.txt`), mark);
  t.true(readFileSync(join(dir, 'notes.txt')).equals(notes), 'the bytes the visitor sent');
  term.type(`/download ${file.id} ${dir}`);
  await term.expect(/as [^\n]*notes \(1\)\.txt/, mark);

  mark = term.output().length;
  term.type('/nonsense');
  await term.expect(/! unknown command \/nonsense/, mark);

  term.type('/quit');
  const code = await Promise.race([
    term.exited,
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20000).unref()),
  ]);
  t.is(code, 0, 'the chat exits cleanly on /quit');
  t.is(await node.store.countMessages(channel.id), 4);
});
