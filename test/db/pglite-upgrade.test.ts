/**
 * The upgrade path of the embedded database: a data directory written by the previous PGlite
 * release (installed as the dev alias `pglite-previous`) must open with the release we ship, with
 * its rows intact. When the pinned previous release is bumped, bump the alias in package.json too.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGlite as PreviousPGlite } from 'pglite-previous';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Read from node_modules directly: the package's exports map does not expose package.json.
const versionOf = async (name: string): Promise<string> =>
  (JSON.parse(await readFile(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'br-pglite-upgrade-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PGlite upgrade', () => {
  it('opens a data directory written by the previous release and reads its rows', async () => {
    const [previous, current] = [await versionOf('pglite-previous'), await versionOf('@electric-sql/pglite')];
    expect(previous).not.toBe(current); // otherwise this test proves nothing
    const dataDir = join(dir, 'pglite');
    const old = await PreviousPGlite.create(dataDir);
    await old.exec(`CREATE TABLE carried (id bigint PRIMARY KEY, payload jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
    await old.exec(`INSERT INTO carried (id, payload) SELECT g, jsonb_build_object('n', g) FROM generate_series(1, 500) g`);
    await old.close();

    const db = await PGlite.create(dataDir);
    try {
      const count = await db.query<{ n: number; sum: number }>(`SELECT count(*)::int AS n, sum((payload->>'n')::int)::int AS sum FROM carried`);
      expect(count.rows[0]).toEqual({ n: 500, sum: (500 * 501) / 2 });
      await db.exec(`INSERT INTO carried (id, payload) VALUES (501, '{"n":501}')`);
      const max = await db.query<{ id: string }>(`SELECT max(id)::text AS id FROM carried`);
      expect(max.rows[0]!.id).toBe('501');
    } finally {
      await db.close();
    }
  }, 90_000);
});
