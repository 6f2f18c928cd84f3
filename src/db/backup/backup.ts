/**
 * `batch-router backup` and `restore` for the embedded database (see the README's "Backups and
 * moving to PostgreSQL"). A backup is a plain SQL file from PGlite's pg_dump: readable, and loadable
 * by psql into a PostgreSQL server as well as back into an embedded data directory.
 *
 * Backup: through the running daemon's embedded server when one runs (the dump is one read-only
 * transaction, a consistent snapshot; the daemon's own queries wait for it), otherwise under the
 * data-directory lock with PGlite opened here. The file appears only when complete (temporary
 * name, then rename) and an existing file is kept unless `force`.
 * Restore: only with no process holding the data directory, into a fresh PGlite beside the old
 * one, which replaces it only once the whole dump has loaded.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { openPgliteDir } from '../pglite-open.ts';
import { acquireDataDirLock } from '../data-dir-lock.ts';
import { findLiveDaemon } from '../embedded.ts';
import { dumpOverWire, dumpPglite } from './pg-dump.ts';
import { statementBatches } from './sql-statements.ts';

/** Characters of SQL handed to PGlite at once on restore: bounded memory, few round trips. */
const RESTORE_BATCH_CHARS = 1 << 20;

/** A problem the operator must fix; `code` is stable for scripts and tests. */
export class BackupError extends Error {
  constructor(
    readonly code: 'target_exists' | 'no_database' | 'in_use' | 'not_empty' | 'not_a_backup' | 'dump_failed' | 'restore_failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackupError';
  }
}

export interface BackupResult {
  bytes: number;
  /** True when a running daemon served the dump. */
  throughDaemon: boolean;
}

const pgliteDir = (dataDir: string) => join(dataDir, 'pglite');
/** A cause's message on one line (pg_dump's own reports span several). */
const oneLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
const exists = (path: string) => access(path).then(() => true, () => false);

export async function backupEmbedded(dataDir: string, file: string, options: { force?: boolean } = {}): Promise<BackupResult> {
  if (!options.force && (await exists(file))) {
    throw new BackupError('target_exists', `${file} already exists; choose another file or add --force to replace it`);
  }
  if (!(await exists(pgliteDir(dataDir)))) {
    throw new BackupError('no_database', `${dataDir} holds no embedded database (no ${pgliteDir(dataDir)}); check BATCH_ROUTER_DATA_DIR`);
  }
  const lock = await acquireDataDirLock(dataDir, { busyTimeoutMs: 15_000, checkFirst: () => findLiveDaemon(dataDir) });
  let text: string;
  try {
    if (lock.kind === 'found') {
      // The blocking client would put to sleep the very thread that serves the daemon's database.
      if (lock.found.pid === process.pid) throw new Error('this process serves the database itself; back it up from another process');
      text = await dumpOverWire(lock.found.host, lock.found.port);
    } else {
      const pg = await openPgliteDir(pgliteDir(dataDir));
      try {
        text = await dumpPglite(pg);
      } finally {
        await pg.close();
      }
    }
  } catch (error) {
    throw new BackupError('dump_failed', `the dump of ${dataDir} failed: ${oneLine(error)}; nothing was written`, { cause: error });
  } finally {
    if (lock.kind === 'locked') await lock.release();
  }
  await writeAtomically(file, text);
  return { bytes: Buffer.byteLength(text), throughDaemon: lock.kind === 'found' };
}

/** Writes beside the target, flushes, then renames: a crash leaves the old file or none, never half. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function restoreEmbedded(dataDir: string, file: string, options: { force?: boolean } = {}): Promise<void> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new BackupError('not_a_backup', `cannot read ${file}: ${error.code ?? error.message}`, { cause: error });
  });
  if (!/^-- PostgreSQL database dump/m.test(text.slice(0, 2000))) {
    throw new BackupError('not_a_backup', `${file} is not a batch-router backup (a pg_dump SQL file); nothing was changed`);
  }
  await mkdir(dataDir, { recursive: true });
  const lock = await acquireDataDirLock(dataDir, {
    busyTimeoutMs: 2_000,
    checkFirst: async () => {
      const daemon = await findLiveDaemon(dataDir);
      if (daemon) {
        throw new BackupError('in_use', `a batch-router daemon (pid ${daemon.pid}) is using ${dataDir}; stop it, then restore`);
      }
      return undefined;
    },
  }).catch((error: Error) => {
    throw error instanceof BackupError ? error : new BackupError('in_use', error.message, { cause: error });
  });
  if (lock.kind === 'found') throw new Error('unreachable: checkFirst never returns a daemon');
  try {
    const target = pgliteDir(dataDir);
    if (!options.force && (await isNonEmptyDir(target))) {
      throw new BackupError('not_empty', `${dataDir} already holds an embedded database; restore into an empty BATCH_ROUTER_DATA_DIR, or add --force to replace it`);
    }
    const fresh = `${target}.restoring`;
    await rm(fresh, { recursive: true, force: true });
    const pg = await openPgliteDir(fresh);
    try {
      // Batches run one after another in one session, so the dump's SET commands hold for all.
      for (const batch of statementBatches(text, RESTORE_BATCH_CHARS)) await pg.exec(batch);
    } catch (error) {
      await pg.close().catch(() => undefined);
      await rm(fresh, { recursive: true, force: true });
      throw new BackupError('restore_failed', `loading ${file} failed: ${oneLine(error)}; ${dataDir} is unchanged`, { cause: error });
    }
    await pg.close();
    await rm(target, { recursive: true, force: true });
    await rename(fresh, target);
  } finally {
    await lock.release();
  }
}

async function isNonEmptyDir(path: string): Promise<boolean> {
  if (!(await stat(path).then((s) => s.isDirectory(), () => false))) return false;
  return (await readdir(path)).length > 0;
}
