/**
 * `enqueue` progress while a large input is read and inserted, on stderr with the conventions of
 * `--wait` (progress.ts): on a terminal one line is redrawn in place, into a pipe or a log file a
 * plain line is written every few seconds. Nothing is shown for an input that is done within the
 * first second, so small enqueues print exactly what they did before.
 */
import type { CliContext } from './command.ts';
import { formatDuration } from './output.ts';

export interface IngestProgressOptions {
  /** Size of the input file in bytes; undefined for stdin, which shows no percentage. */
  totalBytes: number | undefined;
  /** Bytes read from the input so far (the file stream's own count). */
  bytesRead: () => number;
  /** Quiet time before the first line. */
  firstAfterMs?: number;
  /** Time between plain lines when stderr is not a terminal. */
  plainEveryMs?: number;
}

export class IngestProgress {
  private readonly started = Date.now();
  private readonly tty: boolean;
  private lastShown = -Infinity;
  private drawn = false;

  constructor(
    private readonly ctx: CliContext,
    private readonly options: IngestProgressOptions,
  ) {
    this.tty = ctx.stderr.isTTY === true;
  }

  /** Called after each inserted batch with the running total. */
  update(enqueued: number): void {
    const elapsed = Date.now() - this.started;
    if (elapsed < (this.options.firstAfterMs ?? 1000)) return;
    const every = this.tty ? 200 : (this.options.plainEveryMs ?? 5000);
    if (elapsed - this.lastShown < every) return;
    this.lastShown = elapsed;
    this.show(enqueued, elapsed);
  }

  /** Ends a redrawn line so the summary starts on a fresh one. */
  finish(): void {
    if (this.drawn) this.ctx.stderr.write('\n');
    this.drawn = false;
  }

  private show(enqueued: number, elapsed: number): void {
    const line = ingestLine(enqueued, this.options.bytesRead(), this.options.totalBytes, elapsed, this.tty);
    if (!this.tty) return this.ctx.note(line);
    const width = Math.max(20, (this.ctx.stderr.columns ?? 100) - 1);
    this.ctx.stderr.write(`\r\x1b[2K${line.slice(0, width)}`);
    this.drawn = true;
  }
}

const MB = 1024 * 1024;

/** "[########------------] 41% · enqueued 82000 jobs · 24.6 of 60.2 MB read · 20500 jobs/s · 4s" */
export function ingestLine(enqueued: number, bytesRead: number, totalBytes: number | undefined, elapsedMs: number, bar: boolean): string {
  const rate = Math.round(enqueued / Math.max(elapsedMs / 1000, 0.001));
  const read = totalBytes === undefined ? `${(bytesRead / MB).toFixed(1)} MB read` : `${(bytesRead / MB).toFixed(1)} of ${(totalBytes / MB).toFixed(1)} MB read`;
  let head = '';
  if (totalBytes !== undefined && totalBytes > 0) {
    const share = Math.min(1, bytesRead / totalBytes);
    const width = 20;
    const filled = Math.floor(share * width);
    head = `${bar ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` : ''}${Math.floor(share * 100)}% · `;
  }
  return `${head}enqueued ${enqueued} jobs · ${read} · ${rate} jobs/s · ${formatDuration(elapsedMs)}`;
}
