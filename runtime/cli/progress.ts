/**
 * The restore progress display on stderr: a bar redrawn in place on a
 * terminal; on anything else (a log file, kubectl logs) a plain line every few
 * seconds, since carriage returns there only make one endless line.
 */
import type { RestoreProgress } from '../snapshot/restore.js';

const REDRAW_MS = 100;
const LINE_EVERY_MS = 5000;
const BAR_WIDTH = 24;

export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export class ProgressDisplay {
  private lastDraw = -Infinity;
  private lastPhase: RestoreProgress['phase'] | null = null;
  private drawn = false;

  constructor(private readonly out: ProgressOutput = process.stderr) {}

  update(p: RestoreProgress): void {
    const phaseChanged = p.phase !== this.lastPhase;
    this.lastPhase = p.phase;
    const every = this.out.isTTY ? REDRAW_MS : LINE_EVERY_MS;
    if (!phaseChanged && p.ms - this.lastDraw < every) return;
    this.lastDraw = p.ms;
    if (this.out.isTTY) {
      const line = render(p, true).slice(0, Math.max(20, (this.out.columns ?? 80) - 1));
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.out.write(`${render(p, false)}\n`);
    }
  }

  /** Draws the final state and leaves the cursor on a fresh line. */
  finish(p: RestoreProgress | null): void {
    if (p) {
      this.lastDraw = -Infinity;
      this.update(p);
    }
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

function render(p: RestoreProgress, bar: boolean): string {
  if (p.phase === 'listing') return 'restore: listing segments…';
  const fraction = p.segments === 0 ? 1 : p.segmentsDone / p.segments;
  const rate = p.ms > 0 ? Math.round(p.messages / (p.ms / 1000)) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const gauge = bar ? `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ` : '';
  return (
    `restore: ${gauge}${(fraction * 100).toFixed(0).padStart(3)}%  ` +
    `channels ${p.channelsDone}/${p.channels}  segments ${p.segmentsDone}/${p.segments}  ` +
    `${p.messages.toLocaleString('en-US')} messages  ${rate.toLocaleString('en-US')}/s  ${(p.ms / 1000).toFixed(0)} s`
  );
}
