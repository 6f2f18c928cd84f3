/**
 * A data directory written by another PostgreSQL major (another PGlite release line: 0.5 runs 18,
 * 0.6 runs 19) is refused with the versions and the way across (backup, then restore), instead of
 * PGlite's bare "failed to initialize properly". Simulated by rewriting PG_VERSION, which is what
 * PostgreSQL itself checks first.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EmbeddedVersionMismatchError, runningMajor, writtenMajor } from '../../src/db/data-dir-version.ts';
import { openEmbedded } from '../../src/db/embedded.ts';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'br-data-dir-version-'));
  const db = await PGlite.create(join(dataDir, 'pglite'));
  await db.exec('CREATE TABLE kept (id int)');
  await db.close();
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

it('refuses a data directory of another PostgreSQL major, naming both and the backup/restore route', async () => {
  const pgliteDir = join(dataDir, 'pglite');
  const running = await runningMajor();
  expect(await writtenMajor(pgliteDir)).toBe(running);
  await writeFile(join(pgliteDir, 'PG_VERSION'), `${running - 1}\n`);

  const refused = await openEmbedded({ dataDir, role: 'client' }).then(() => undefined, (error: unknown) => error);
  expect(refused).toBeInstanceOf(EmbeddedVersionMismatchError);
  expect((refused as Error).message).toContain(`written by PostgreSQL ${running - 1}`);
  expect((refused as Error).message).toContain(`runs PostgreSQL ${running}`);
  expect((refused as Error).message).toMatch(/batch-router backup <file>.*batch-router restore <file>/);

  // The lock was released: with the right version back the same directory opens.
  await writeFile(join(pgliteDir, 'PG_VERSION'), `${running}\n`);
  const target = await openEmbedded({ dataDir, role: 'client' });
  await target.close();
});
