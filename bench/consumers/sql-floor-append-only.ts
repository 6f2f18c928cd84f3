/**
 * Consumer of "sql-floor-append-only" (bench/systems/sql-floor-append-only.ts). Each loop, on its
 * own connection: move the destination's cursor past the next batch of ids and read those jobs
 * (one statement; the cursor row's lock serialises the loops, so no id is claimed twice), POST
 * them, then insert one upload row. No job row is ever updated or deleted.
 */
import type pg from 'pg';
import { postUntilAccepted } from '../lib/post.ts';
import { connectLoops, serveSqlLoops } from '../lib/sql-loops.ts';
import { APPEND_ONLY_DESTINATION } from '../systems/sql-floor-append-only.ts';

const { settings, url, clients } = await connectLoops();

// FOR UPDATE on the cursor makes a second loop wait for the first's commit and then read the
// moved cursor (PostgreSQL re-checks the locked row), so consecutive claims never overlap.
const CLAIM = `
  WITH cursor AS (
    SELECT claimed_to FROM floor_ao.cursors WHERE destination = $2 FOR UPDATE
  ), picked AS (
    SELECT j.id, j.payload FROM floor_ao.jobs j, cursor WHERE j.id > cursor.claimed_to ORDER BY j.id LIMIT $1
  ), moved AS (
    UPDATE floor_ao.cursors SET claimed_to = (SELECT max(id) FROM picked)
    WHERE destination = $2 AND EXISTS (SELECT 1 FROM picked)
  )
  SELECT id::text AS id, payload FROM picked ORDER BY id`;
const RECORD = 'INSERT INTO floor_ao.uploads (first_id, last_id, jobs) VALUES ($1, $2, $3)';

async function loop(client: pg.Client, stopping: () => boolean): Promise<void> {
  while (!stopping()) {
    const { rows } = await client.query<{ id: string; payload: string }>({
      text: CLAIM,
      values: [settings.batchSize, APPEND_ONLY_DESTINATION],
      name: 'claim',
    });
    if (rows.length === 0) {
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    await postUntilAccepted(url, rows.map((r) => r.payload));
    await client.query({ text: RECORD, values: [rows[0]!.id, rows.at(-1)!.id, rows.length], name: 'record' });
  }
}

serveSqlLoops('sql-floor-append-only', settings, clients, loop);
