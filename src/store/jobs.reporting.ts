/**
 * Read-side SQL on `br_jobs` for the HTTP API and metrics: filtered keyset listing, and per
 * destination backlog and throughput. Every query is bounded by an index (destination and state,
 * submission, or the finished-at partial index); nothing here scans the whole table except the
 * metrics counts, which read the (destination, state, id) index only.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, JobRow, JobState } from '../db/schema.ts';

type Db = Kysely<Database>;

/**
 * What `listJobs` selects; every field is optional except `limit`, and set fields combine with AND.
 * The one listing behind both the CLI (`batch-router jobs`) and the API (`GET /v1/jobs`).
 */
export interface JobListFilter {
  /** Destinations the caller may see (API keys scoped to destinations); undefined means all. An empty list sees nothing. */
  visibleDestinations?: readonly string[] | undefined;
  destinationId?: string | undefined;
  states?: readonly JobState[] | undefined;
  submissionId?: string | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  updatedAfter?: Date | undefined;
  updatedBefore?: Date | undefined;
  /** Keyset cursor: only ids below this one. Newest first, so later inserts never shift a page. */
  beforeId?: string | undefined;
  limit: number;
}

/** Jobs matching `f`, newest first, at most `f.limit`; page on with `beforeId` = the last id returned. */
export async function listJobs(db: Db, f: JobListFilter): Promise<JobRow[]> {
  if (f.visibleDestinations && f.visibleDestinations.length === 0) return [];
  const conditions: RawBuilder<unknown>[] = [sql`true`];
  const add = (value: unknown, condition: RawBuilder<unknown>) => value !== undefined && conditions.push(condition);
  add(f.visibleDestinations, sql`destination_id = ANY(${f.visibleDestinations}::text[])`);
  add(f.destinationId, sql`destination_id = ${f.destinationId}`);
  if (f.states && f.states.length > 0) conditions.push(sql`state = ANY(${f.states}::text[])`);
  add(f.submissionId, sql`submission_id = ${f.submissionId}`);
  add(f.createdAfter, sql`created_at >= ${f.createdAfter}`);
  add(f.createdBefore, sql`created_at < ${f.createdBefore}`);
  add(f.updatedAfter, sql`updated_at >= ${f.updatedAfter}`);
  add(f.updatedBefore, sql`updated_at < ${f.updatedBefore}`);
  add(f.beforeId, sql`id < ${f.beforeId}::bigint`);
  const { rows } = await sql<JobRow>`
    SELECT * FROM br_jobs WHERE ${sql.join(conditions, sql` AND `)} ORDER BY id DESC LIMIT ${f.limit}
  `.execute(db);
  return rows;
}

export interface DestinationActivity {
  counts: Record<JobState, number>;
  /** Seconds the oldest waiting job has been waiting (since created); null when none waits. */
  oldestWaitingSeconds: number | null;
  /** Jobs that reached each final state within the window. */
  finishedInWindow: { succeeded: number; aborted: number; cancelled: number };
}

/** Backlog by state and recent throughput of one destination, in three index-bounded queries. */
export async function destinationActivity(db: Db, destinationId: string, windowMs: number): Promise<DestinationActivity> {
  const counts: Record<JobState, number> = { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 };
  const { rows } = await sql<{ state: JobState; n: string }>`
    SELECT state, count(*) AS n FROM br_jobs
    WHERE destination_id = ${destinationId} AND state IN ('waiting', 'executing', 'importing') GROUP BY state
    UNION ALL
    SELECT state, count(*) AS n FROM br_jobs
    WHERE destination_id = ${destinationId} AND state IN ('succeeded', 'aborted', 'cancelled') GROUP BY state
  `.execute(db);
  for (const row of rows) counts[row.state] = Number(row.n);
  const { rows: oldest } = await sql<{ age: number | null }>`
    SELECT extract(epoch FROM now() - min(created_at))::double precision AS age
    FROM br_jobs WHERE destination_id = ${destinationId} AND state = 'waiting'
  `.execute(db);
  const { rows: finished } = await sql<{ state: JobState; n: string }>`
    SELECT state, count(*) AS n FROM br_jobs
    WHERE state IN ('succeeded', 'aborted', 'cancelled') AND destination_id = ${destinationId}
      AND finished_at > now() - ${windowMs}::double precision * interval '1 millisecond'
    GROUP BY state
  `.execute(db);
  const by = (state: JobState) => Number(finished.find((r) => r.state === state)?.n ?? 0);
  return {
    counts,
    oldestWaitingSeconds: oldest[0]?.age ?? null,
    finishedInWindow: { succeeded: by('succeeded'), aborted: by('aborted'), cancelled: by('cancelled') },
  };
}

/** Age in seconds of the oldest waiting job per destination (the backlog-age metric). */
export async function oldestWaitingByDestination(db: Db): Promise<Array<{ destinationId: string; seconds: number }>> {
  const { rows } = await sql<{ destination_id: string; age: number }>`
    SELECT destination_id, extract(epoch FROM now() - min(created_at))::double precision AS age
    FROM br_jobs WHERE state = 'waiting' GROUP BY destination_id
  `.execute(db);
  return rows.map((r) => ({ destinationId: r.destination_id, seconds: Math.max(0, r.age) }));
}
