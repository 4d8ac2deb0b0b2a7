/**
 * Child-process plumbing shared by the private servers the tests start:
 * start-up with a readiness check, stop by PID, and a reaper that stops the
 * server if this test process dies without cleaning up (SIGKILL, ava timeout).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Service {
  child: ChildProcess;
  /** Output so far, for error messages. */
  output(): string;
  /** SIGINT-style stop; resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const OUTPUT_CAP = 64 * 1024;

/** Starts `command` and a reaper that sends it `reapSignal` if this process dies first. */
export function startService(
  command: string,
  args: string[],
  options: SpawnOptions & { reapSignal: NodeJS.Signals },
): Service {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < OUTPUT_CAP) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => collect(Buffer.from(`spawn error: ${err.message}\n`)));
  const reaper = child.pid ? startReaper(child.pid, options.reapSignal) : null;
  return {
    child,
    output: () => output,
    async stop(signal = options.reapSignal) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
        await exited;
      }
      if (reaper && reaper.exitCode === null) reaper.kill('SIGKILL');
    },
  };
}

/**
 * A detached shell that polls for this process and, once it is gone, signals
 * the server it was told about, then exits. It survives SIGKILL of the test
 * process (it is in its own session), and ignores terminal signals so Ctrl-C
 * does not orphan the server. It only ever signals the one PID it was given.
 */
function startReaper(pid: number, signal: NodeJS.Signals): ChildProcess {
  const sig = signal.replace(/^SIG/, '');
  const script = [
    `trap '' INT HUP`,
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done`,
    // SIGCONT too: a fault test may have left the server stopped (SIGSTOP).
    `kill -${sig} ${pid} 2>/dev/null; kill -CONT ${pid} 2>/dev/null`,
  ].join('; ');
  const reaper = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  reaper.unref();
  return reaper;
}

/** Polls `probe` until it resolves true, the process exits, or the deadline passes. */
export async function waitUntil(
  service: Service,
  probe: () => Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      throw new Error(`${what} exited before it was ready:\n${service.output()}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      await service.stop('SIGKILL');
      throw new Error(`${what} not ready after ${timeoutMs} ms:\n${service.output()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
