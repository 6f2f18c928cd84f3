/**
 * How batch-router opens a PGlite data directory: the daemon's embedded database, a CLI with no
 * daemon running, backup and restore. One place, so every process that opens the files runs the
 * same server settings.
 */
import { PGlite } from '@electric-sql/pglite';

/**
 * PGlite's shared_buffers. Its default, 128MB, lives in the process's WebAssembly memory and stays
 * resident once used. Draining 100,000 jobs on the embedded database (stop 27, two rounds each),
 * the daemon peaked at 498–515 MB RSS with the default and 390–396 MB with 32MB, at the same CPU
 * (6.3–6.7 s against 6.4–6.7 s). The data files stay in the operating system's page cache, so a
 * page that is not in the pool costs PGlite a read call, not a disk read.
 */
export const EMBEDDED_SHARED_BUFFERS = '32MB';

/** Opens (creating when absent) the PGlite cluster in `dir` with batch-router's settings. */
export function openPgliteDir(dir: string): Promise<PGlite> {
  return PGlite.create(dir, { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`] });
}
