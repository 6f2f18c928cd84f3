/**
 * Read-side SQL for the HTTP API and metrics: the filtered keyset listing of the `br_jobs` view,
 * and per destination backlog and throughput, which read the tables (uploads, exception rows, the
 * backlog above the cursor) so their cost does not grow with the history of delivered jobs.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, JobRow, JobState } from '../db/schema.ts';
import { countStatesOfDestination } from './jobs.counts.ts';

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

/**
 * Jobs matching `f`, newest first, at most `f.limit`; page on with `beforeId` = the last id returned.
 * Without a state filter, or one that includes `succeeded` (the bulk of the history, so a
 * newest-first scan of the view meets matches at once), the view is scanned newest first. Other
 * state filters select rare jobs, which that scan would look for through the whole history: they
 * start from the jobs that can be in those states (see {@link candidatesOf}) and read the view
 * for those ids only.
 */
export async function listJobs(db: Db, f: JobListFilter): Promise<JobRow[]> {
  if (f.visibleDestinations && f.visibleDestinations.length === 0) return [];
  const { rows } = await listJobsSql(f).execute(db);
  return rows;
}

/** The statement behind {@link listJobs} (exported for bench/explain/span-reads.ts). */
export function listJobsSql(f: JobListFilter): RawBuilder<JobRow> {
  const conditions: RawBuilder<unknown>[] = [sql`true`];
  const add = (value: unknown, condition: RawBuilder<unknown>) => value !== undefined && conditions.push(condition);
  add(f.visibleDestinations, sql`j.destination_id = ANY(${f.visibleDestinations}::text[])`);
  add(f.destinationId, sql`j.destination_id = ${f.destinationId}`);
  const states = f.states && f.states.length > 0 ? f.states : undefined;
  add(states, sql`j.state = ANY(${states}::text[])`);
  add(f.submissionId, sql`j.submission_id = ${f.submissionId}`);
  add(f.createdAfter, sql`j.created_at >= ${f.createdAfter}`);
  add(f.createdBefore, sql`j.created_at < ${f.createdBefore}`);
  add(f.updatedAfter, sql`j.updated_at >= ${f.updatedAfter}`);
  add(f.updatedBefore, sql`j.updated_at < ${f.updatedBefore}`);
  add(f.beforeId, sql`j.id < ${f.beforeId}::bigint`);
  const where = sql.join(conditions, sql` AND `);
  if (!states || states.includes('succeeded')) {
    return sql<JobRow>`SELECT j.* FROM br_jobs j WHERE ${where} ORDER BY j.id DESC LIMIT ${f.limit}`;
  }
  return sql<JobRow>`
    WITH candidates AS (${candidatesOf(f, states)})
    SELECT j.* FROM (SELECT DISTINCT id FROM candidates ORDER BY id DESC) c
    CROSS JOIN LATERAL (SELECT * FROM br_jobs v WHERE v.id = c.id) j
    WHERE ${where} ORDER BY j.id DESC LIMIT ${f.limit}
  `;
}

/**
 * Ids of every job of `f`'s destinations (below `f.beforeId`) that can be in one of `states`
 * (never `succeeded`), a superset the caller narrows through the view: exception rows in those
 * states, jobs above the cursor (waiting unless they have an exception row), and the ranges of
 * uploads whose `jobs_state` is `executing` (uploads in flight). Jobs below the cursor outside
 * every range have an exception row (see jobs.span-counts.ts), so no job in these states is missed.
 */
function candidatesOf(f: JobListFilter, states: readonly JobState[]): RawBuilder<{ id: string }> {
  const scope = (column: string) => {
    const parts: RawBuilder<unknown>[] = [sql`true`];
    if (f.visibleDestinations) parts.push(sql`${sql.ref(column)} = ANY(${f.visibleDestinations}::text[])`);
    if (f.destinationId !== undefined) parts.push(sql`${sql.ref(column)} = ${f.destinationId}`);
    return sql.join(parts, sql` AND `);
  };
  // LATERAL with OFFSET 0 (which keeps the planner from flattening it into a join), so each cursor
  // and range is one index range scan on (destination_id, id): as a join the planner does not
  // know the bounds and hashes every job row (measured: 240 ms on 1M jobs).
  const below = (column: string) => (f.beforeId !== undefined ? sql`${sql.ref(column)} < ${f.beforeId}::bigint` : sql`true`);
  const branches: RawBuilder<unknown>[] = [sql`
    SELECT e.job_id AS id FROM br_job_exceptions e
    WHERE e.state = ANY(${states}::text[]) AND ${scope('e.destination_id')} AND ${below('e.job_id')}`];
  if (states.includes('waiting')) {
    branches.push(sql`
      SELECT r.id FROM br_claim_cursors c CROSS JOIN LATERAL (
        SELECT r.id FROM br_job_rows r WHERE r.destination_id = c.destination_id AND r.id > c.claimed_through AND ${below('r.id')} OFFSET 0) r
      WHERE ${scope('c.destination_id')}`);
  }
  if (states.includes('executing')) {
    branches.push(sql`
      SELECT r.id FROM br_uploads u CROSS JOIN LATERAL (
        SELECT r.id FROM br_job_rows r
        WHERE r.destination_id = u.destination_id AND r.id BETWEEN u.first_job_id AND u.last_job_id AND ${below('r.id')} OFFSET 0) r
      WHERE u.jobs_state = 'executing' AND u.first_job_id IS NOT NULL AND ${scope('u.destination_id')}`);
  }
  return sql<{ id: string }>`${sql.join(branches, sql` UNION ALL `)}`;
}

export interface DestinationActivity {
  counts: Record<JobState, number>;
  /** Seconds the oldest waiting job has been waiting (since created); null when none waits. */
  oldestWaitingSeconds: number | null;
  /** Jobs that reached each final state within the window. */
  finishedInWindow: { succeeded: number; aborted: number; cancelled: number };
}

/**
 * Backlog by state and recent throughput of one destination, from the tables (see jobs.counts.ts):
 * uploads, exception rows and the backlog above the cursor, never the history of delivered jobs.
 */
export async function destinationActivity(db: Db, destinationId: string, windowMs: number): Promise<DestinationActivity> {
  const counts = await countStatesOfDestination(db, destinationId);
  const oldest = (await oldestWaiting(db, sql<boolean>`c.destination_id = ${destinationId}`))[0];
  const { rows: finished } = await sql<{ state: JobState; n: string }>`
    WITH since AS (SELECT now() - ${windowMs}::double precision * interval '1 millisecond' AS at)
    SELECT e.state, count(*) AS n FROM br_job_exceptions e, since
    WHERE e.destination_id = ${destinationId} AND e.state IN ('succeeded', 'aborted', 'cancelled') AND e.finished_at > since.at
    GROUP BY e.state
    UNION ALL
    SELECT 'succeeded', u.range_count - (
             SELECT count(*) FROM br_job_exceptions e
             WHERE e.job_id BETWEEN u.first_job_id AND u.last_job_id AND e.destination_id = u.destination_id)
    FROM br_uploads u, since
    WHERE u.destination_id = ${destinationId} AND u.jobs_state = 'succeeded' AND u.jobs_finished_at > since.at
  `.execute(db);
  const by = (state: JobState) => finished.filter((r) => r.state === state).reduce((n, r) => n + Number(r.n), 0);
  return {
    counts,
    oldestWaitingSeconds: oldest?.seconds ?? null,
    finishedInWindow: { succeeded: by('succeeded'), aborted: by('aborted'), cancelled: by('cancelled') },
  };
}

/** Age in seconds of the oldest waiting job per destination (the backlog-age metric). */
export async function oldestWaitingByDestination(db: Db): Promise<Array<{ destinationId: string; seconds: number }>> {
  return oldestWaiting(db, sql<boolean>`true`);
}

/**
 * Since when the oldest waiting job of each destination `scope` selects (alias `c` on
 * br_claim_cursors) was created: waiting exception rows (retries), and the first job above the
 * cursor without one (ids grow with creation time). Destinations with nothing waiting are left out.
 */
async function oldestWaiting(db: Db, scope: RawBuilder<boolean>): Promise<Array<{ destinationId: string; seconds: number }>> {
  const { rows } = await sql<{ destination_id: string; age: number | null }>`
    SELECT c.destination_id, extract(epoch FROM now() - least(
      (SELECT min(r.created_at) FROM br_job_exceptions e JOIN br_job_rows r ON r.id = e.job_id
       WHERE e.destination_id = c.destination_id AND e.state = 'waiting'),
      (SELECT r.created_at FROM br_job_rows r
       WHERE r.destination_id = c.destination_id AND r.id > c.claimed_through
         AND NOT EXISTS (SELECT 1 FROM br_job_exceptions e WHERE e.job_id = r.id)
       ORDER BY r.id LIMIT 1)))::double precision AS age
    FROM br_claim_cursors c WHERE ${scope}
  `.execute(db);
  return rows.filter((r) => r.age !== null).map((r) => ({ destinationId: r.destination_id, seconds: Math.max(0, r.age!) }));
}
