/**
 * Consumer of "sql-floor-segments" (bench/systems/sql-floor-segments.ts). Each loop, on its own
 * connection: move the cursor past the next batch of ids and read that range's event list, already
 * joined by the server (one statement, one value), POST it, then insert one upload row.
 */
import type pg from 'pg';
import { postUntilAccepted } from '../lib/post.ts';
import { connectLoops, serveSqlLoops } from '../lib/sql-loops.ts';
import { SEGMENT_FLOOR_DESTINATION } from '../systems/sql-floor-segments.ts';

const { settings, url, clients } = await connectLoops();

// The cursor row's lock serialises the loops, as in the append-only floor. A segment's array is
// 1-based: job id j of a segment starting at first_id is element j - first_id + 1.
const CLAIM = `
  WITH cursor AS (
    SELECT claimed_to FROM floor_seg.cursors WHERE destination = $2 FOR UPDATE
  ), span AS (
    SELECT c.claimed_to + 1 AS first, least(c.claimed_to + $1, (SELECT max(last_id) FROM floor_seg.segments)) AS last FROM cursor c
  ), parts AS (
    SELECT s.first_id, array_to_string(
             s.payloads[greatest(span.first, s.first_id) - s.first_id + 1 : least(span.last, s.last_id) - s.first_id + 1], ',') AS part
    FROM floor_seg.segments s, span
    WHERE s.last_id >= span.first AND s.first_id <= span.last
  ), moved AS (
    UPDATE floor_seg.cursors SET claimed_to = span.last FROM span WHERE destination = $2 AND span.last >= span.first
  )
  SELECT span.first::text AS first, span.last::text AS last, (SELECT string_agg(part, ',' ORDER BY first_id) FROM parts) AS events
  FROM span WHERE span.last >= span.first`;
const RECORD = 'INSERT INTO floor_seg.uploads (first_id, last_id, jobs) VALUES ($1, $2, $3)';

async function loop(client: pg.Client, stopping: () => boolean): Promise<void> {
  while (!stopping()) {
    const { rows } = await client.query<{ first: string; last: string; events: string }>({
      text: CLAIM,
      values: [settings.batchSize, SEGMENT_FLOOR_DESTINATION],
      name: 'claim',
    });
    const claimed = rows[0];
    if (!claimed) {
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    await postUntilAccepted(url, [claimed.events]);
    const jobs = Number(claimed.last) - Number(claimed.first) + 1;
    await client.query({ text: RECORD, values: [claimed.first, claimed.last, jobs], name: 'record' });
  }
}

serveSqlLoops('sql-floor-segments', settings, clients, loop);
