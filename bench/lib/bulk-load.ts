/**
 * Set-based loaders for batch-router's job store, for the workloads that need millions of rows
 * before the clock starts (scale: finished history; memory: a waiting backlog). Going through
 * `insertJobs` would take minutes per million; `generate_series` in one statement per chunk takes
 * seconds, and the rows are what `insertJobs` and the router would have left behind: a
 * `br_job_rows` row plus a `br_job_payloads` row with a ~300-byte event like workloads/events.ts
 * builds; delivered history is a finished upload per 10,000 ids whose range's jobs succeeded
 * (`jobs_state`), with the destination's claim cursor past them, and no per-job state row.
 *
 * Ids are given explicitly (continuing after the highest id present) and the sequences are moved
 * past them, so later inserts by the daemon or the runner never collide. Job partitions are made
 * for the ids first, so nothing lands in the DEFAULT partition.
 */
import type pg from 'pg';
import { EVENT_BYTES, makeEvents } from '../workloads/events.ts';

/** Rows per statement: big enough to be set-based, small enough to report progress. */
const CHUNK = 250_000;
/** Jobs per finished upload, as batch-router-webhook's frozen `maxEventsPerUpload` would make. */
const JOBS_PER_UPLOAD = 10_000;
/** Distinct events the history cycles through (its ids need not be unique: it is never delivered). */
const HISTORY_POOL = 10_000;
/** Same length as the live runs' tag (`bench_` + 12 hex digits), so the events are the same size. */
const HISTORY_TAG = 'bench_history00000';

/**
 * SQL text of event number `g` with id `<$tag>-<g>`, padded with a `note` to EVENT_BYTES like
 * the JavaScript builder does (same fields, same shape; the exact bytes need not match).
 */
const EVENT_SQL = `
  (SELECT body || ',"note":"' || repeat('x', greatest(0, ${EVENT_BYTES} - length(body) - 11)) || '"}'
   FROM (SELECT format(
     '{"id":"%s-%s","type":"%s","timestamp":"%s","userId":"user-%s","context":{"ip":"10.%s.%s.%s","locale":"en-GB","page":"/products/%s"},"properties":{"orderId":"ord-%s","total":%s,"currency":"EUR","items":%s}',
     $1::text, g, (ARRAY['page_viewed','product_added','checkout_started','order_completed'])[g % 4 + 1],
     to_char(timestamp '2026-01-01' + g * interval '250 milliseconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
     g % 9973, (g >> 16) & 255, (g >> 8) & 255, g & 255, g % 1009, g, round((g % 50000) / 100.0, 2), g % 7 + 1
   ) AS body) b)`;

export interface LoadOptions {
  rows: number;
  destinationId: string;
  progress: (line: string) => void;
}

/**
 * `rows` jobs in state `succeeded`, delivered in finished uploads of 10,000, finished over the
 * last 6 days (oldest id first), so the retention sweep (default 7 days) has nothing to delete
 * during the run: the history a production store keeps between two sweeps, not a sweep backlog.
 */
export async function loadFinishedHistory(client: pg.Client, options: LoadOptions): Promise<void> {
  const firstJob = await nextJobId(client);
  const firstUpload = await nextId(client, 'br_uploads');
  const uploads = Math.ceil(options.rows / JOBS_PER_UPLOAD);
  const pool = makeEvents(HISTORY_POOL, HISTORY_TAG);
  const payloadType = await payloadColumnType(client);
  await makePartitions(client, firstJob, firstJob + options.rows - 1);
  // Upload u (0-based) holds history jobs u*10,000+1 .. (u+1)*10,000, finished evenly spread from
  // 6 days ago to 1 hour ago (oldest ids first).
  await client.query(
    `INSERT INTO br_uploads (id, destination_id, manager, state, attempt, job_count, bytes, created_at, updated_at, finished_at,
                             first_job_id, last_job_id, range_count, jobs_state, jobs_finished_at)
     OVERRIDING SYSTEM VALUE
     SELECT $1::bigint + u, $2, 'webhook', 'finished', 1, n, n * ${EVENT_BYTES}, t, t, t,
            $4::bigint + u * ${JOBS_PER_UPLOAD}, $4::bigint + u * ${JOBS_PER_UPLOAD} + n - 1, n, 'succeeded', t
     FROM generate_series(0, $3::bigint - 1) u,
          LATERAL (SELECT now() - interval '6 days' + (u::float8 / $3) * interval '5 days 23 hours' AS t,
                          least(${JOBS_PER_UPLOAD}, $5::bigint - u * ${JOBS_PER_UPLOAD}) AS n) ts`,
    [firstUpload, options.destinationId, uploads, firstJob, options.rows],
  );
  await moveSequence(client, 'br_uploads', firstUpload + uploads - 1);
  await inChunks(options, async (from, to) => {
    await client.query(
      `INSERT INTO br_job_rows (id, destination_id, payload_bytes, created_at)
       SELECT $1::bigint + g - 1, $2, ${EVENT_BYTES},
              now() - interval '6 days' + (((g - 1) / ${JOBS_PER_UPLOAD})::float8 / $3) * interval '5 days 23 hours' - interval '2 seconds'
       FROM generate_series($4::bigint, $5::bigint) g`,
      [firstJob, options.destinationId, uploads, from, to],
    );
    // The live runs' own event builder: history rows then have exactly the size of the events
    // inserted during the run, so history pages leave no gaps the new payloads could fill.
    // A join, not ($2::text[])[i]: subscripting a parameter array copies it for every row (10x slower).
    await client.query(
      `INSERT INTO br_job_payloads (job_id, payload)
       SELECT $1::bigint + g - 1, e.payload::${payloadType}
       FROM generate_series($3::bigint, $4::bigint) g
       JOIN unnest($2::text[]) WITH ORDINALITY e(payload, k) ON e.k = 1 + (g - 1) % ${HISTORY_POOL}
       ORDER BY g`,
      [firstJob, pool, from, to],
    );
  });
  await moveJobSequence(client, firstJob + options.rows - 1);
  await client.query(
    `INSERT INTO br_claim_cursors (destination_id, claimed_through) VALUES ($1, $2)
     ON CONFLICT (destination_id) DO UPDATE SET claimed_through = greatest(br_claim_cursors.claimed_through, EXCLUDED.claimed_through)`,
    [options.destinationId, firstJob + options.rows - 1],
  );
}

/** `rows` waiting jobs, ready now, with events whose ids are `<tag>-<index>` (the sink counts them). */
export async function loadWaitingBacklog(client: pg.Client, options: LoadOptions & { tag: string }): Promise<void> {
  const firstJob = await nextJobId(client);
  await makePartitions(client, firstJob, firstJob + options.rows - 1);
  await inChunks(options, async (from, to) => {
    await client.query(
      `INSERT INTO br_job_rows (id, destination_id, payload_bytes)
       SELECT $1::bigint + g - 1, $2, ${EVENT_BYTES} FROM generate_series($3::bigint, $4::bigint) g`,
      [firstJob, options.destinationId, from, to],
    );
    await insertPayloads(client, options.tag, firstJob, from, to);
  });
  await moveJobSequence(client, firstJob + options.rows - 1);
  await client.query(`INSERT INTO br_claim_cursors (destination_id, claimed_through) VALUES ($1, 0) ON CONFLICT DO NOTHING`, [options.destinationId]);
}

async function insertPayloads(client: pg.Client, tag: string, firstJob: number, from: number, to: number): Promise<void> {
  await client.query(
    `INSERT INTO br_job_payloads (job_id, payload)
     SELECT $2::bigint + g - 1, ${EVENT_SQL}::${await payloadColumnType(client)} FROM generate_series($3::bigint, $4::bigint) g`,
    [tag, firstJob, from, to],
  );
}

/** `text` or `jsonb`: the store's payload type has changed before (jsonb → text) and may again. */
async function payloadColumnType(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ type: string }>(
    `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
     WHERE attrelid = 'br_job_payloads'::regclass AND attname = 'payload'`,
  );
  const type = rows[0]?.type;
  if (type !== 'text' && type !== 'jsonb') throw new Error(`br_job_payloads.payload is ${type ?? 'missing'}; the bulk loader knows text and jsonb`);
  return type;
}

/** Runs `load(from, to)` over 1..rows in chunks, with a progress line every few seconds. */
async function inChunks(options: LoadOptions, load: (from: number, to: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  let reported = started;
  for (let from = 1; from <= options.rows; from += CHUNK) {
    const to = Math.min(options.rows, from + CHUNK - 1);
    await load(from, to);
    const now = performance.now();
    if (now - reported > 5000 || to === options.rows) {
      reported = now;
      options.progress(`  loaded ${to.toLocaleString('en-US')}/${options.rows.toLocaleString('en-US')} rows (${((now - started) / 1000).toFixed(0)} s)`);
    }
  }
}

async function nextId(client: pg.Client, table: string): Promise<number> {
  const { rows } = await client.query<{ id: string }>(`SELECT coalesce(max(id), 0) + 1 AS id FROM ${table}`);
  return Number(rows[0]!.id);
}

async function nextJobId(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT greatest((SELECT coalesce(max(id), 0) FROM br_job_rows), (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM br_job_ids)) + 1 AS id`);
  return Number(rows[0]!.id);
}

async function moveJobSequence(client: pg.Client, lastId: number): Promise<void> {
  await client.query(`SELECT setval('br_job_ids', $1::bigint)`, [lastId]);
}

/** Job partitions for the ids about to be written, and two widths beyond (as the sweeper keeps them). */
async function makePartitions(client: pg.Client, firstId: number, lastId: number): Promise<void> {
  await client.query(`SELECT br_ensure_job_partitions($1::bigint, $2::bigint + 2000000)`, [firstId, lastId]);
}

async function moveSequence(client: pg.Client, table: string, lastId: number): Promise<void> {
  await client.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2::bigint)`, [table, lastId]);
}
