import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: plain JavaScript beside the entry shim, without declarations.
import { bundledCli } from '../../bin/bundle.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tertulia(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/tertulia.js', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

test('the bundled CLI and the CLI run from its sources answer alike', async (t) => {
  const [bundled, sources] = await Promise.all([tertulia(['help']), tertulia(['help'], { TERTULIA_FROM_SOURCES: '1' })]);
  t.is(bundled.code, 0);
  t.is(sources.code, 0);
  t.true(bundled.stdout.startsWith('usage: tertulia <command>'));
  t.is(bundled.stdout, sources.stdout);
  const unknown = await tertulia(['no-such-command']);
  t.not(unknown.code, 0);
});

test('builds running at once all get the same bundle, complete', async (t) => {
  const paths = (await Promise.all([bundledCli(ROOT), bundledCli(ROOT), bundledCli(ROOT)])) as (string | null)[];
  t.truthy(paths[0]);
  t.deepEqual(new Set(paths).size, 1);
  const dir = path.dirname(paths[0]!);
  t.true(path.basename(dir).startsWith('cli-'));
  t.true(fs.existsSync(path.join(dir, 'main.js')));
  // Named by its contents: what the sources build now is what is there.
  const again = (await bundledCli(ROOT)) as string | null;
  t.is(again, paths[0]);
});

test('a server started with the CLI runs from the bundle', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tertulia-entry-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['bin/tertulia.js', 'server', '--data-dir', dataDir, '--port', '0', '--metrics-port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => reject(new Error('no listening line within 60 s')), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === 'tertulia listening') {
          clearTimeout(timer);
          resolve(entry);
        }
      }
    });
  });
  t.is(listening.code, 'bundle');
  child.kill('SIGTERM');
  t.is(await exited, 0);
});
