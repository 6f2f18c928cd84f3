/**
 * Why a PGlite data directory would not open, when the reason is its PostgreSQL version. Each PGlite
 * release line embeds one PostgreSQL major (0.5: 18, 0.6: 19), and a data directory written by one
 * major cannot be opened by another: PGlite then only says "failed to initialize properly". The
 * directory's PG_VERSION file says which major wrote it; an in-memory PGlite says which one runs.
 * Both are looked at only after opening failed, so a healthy start pays nothing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

export class EmbeddedVersionMismatchError extends Error {
  readonly code = 'embedded_version_mismatch';
  constructor(pgliteDir: string, written: number, running: number, options: ErrorOptions) {
    super(
      `the embedded database in ${pgliteDir} was written by PostgreSQL ${written}, and this batch-router's ` +
        `PGlite runs PostgreSQL ${running}, which cannot open it in place: with the batch-router release that ` +
        'wrote it run "batch-router backup <file>", then with this one "batch-router restore <file>" into an ' +
        'empty BATCH_ROUTER_DATA_DIR',
      options,
    );
    this.name = 'EmbeddedVersionMismatchError';
  }
}

/** The PostgreSQL major that wrote `pgliteDir`, or undefined when it has no readable PG_VERSION. */
export async function writtenMajor(pgliteDir: string): Promise<number | undefined> {
  const text = await readFile(join(pgliteDir, 'PG_VERSION'), 'utf8').catch(() => undefined);
  const major = Number.parseInt(text?.trim() ?? '', 10);
  return Number.isInteger(major) ? major : undefined;
}

/** The PostgreSQL major of the PGlite this process loads. */
export async function runningMajor(): Promise<number> {
  const probe = await PGlite.create();
  try {
    const { rows } = await probe.query<{ server_version_num: string }>('SHOW server_version_num');
    return Math.floor(Number(rows[0]!.server_version_num) / 10_000);
  } finally {
    await probe.close();
  }
}

/**
 * `error` (PGlite failing to open `pgliteDir`) replaced by an {@link EmbeddedVersionMismatchError}
 * when the directory was written by another PostgreSQL major; otherwise `error` unchanged.
 */
export async function explainOpenFailure(pgliteDir: string, error: unknown): Promise<unknown> {
  const written = await writtenMajor(pgliteDir);
  if (written === undefined) return error;
  const running = await runningMajor().catch(() => undefined);
  if (running === undefined || running === written) return error;
  return new EmbeddedVersionMismatchError(pgliteDir, written, running, { cause: error });
}
