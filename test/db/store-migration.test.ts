/**
 * The job-store migration (2026-12-06, docs/store-design.md) on a populated database: jobs in every
 * state, open and finished uploads (contiguous and not), an import, a retry upload, submissions.
 * What `br_jobs`, payloads, uploads, imports and submissions read before it, they read after it;
 * exception rows exist exactly for the jobs the new tables cannot describe on their own; and the
 * store then claims, finishes and counts those jobs correctly.
 */
import { Migrator, sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderMigrationProvider, MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrateToLatest } from '../../src/db/migrate.ts';
import { claimReadyJobs, countByDestinationAndState, insertJobs } from '../../src/store/jobs.repository.ts';
import { markAllSucceeded } from '../../src/store/jobs.transitions.ts';
import { createUpload } from '../../src/store/uploads.repository.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const BEFORE_REDESIGN = '2026-12-05T00-00-03_klaviyo-rate-limits';
let t: TestDatabase | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The old schema, populated as the old store would have left it. Times are fixed offsets from now. */
async function populateOldSchema(db: Kysely<any>): Promise<void> {
  await sql`
    INSERT INTO br_uploads (id, destination_id, manager, state, attempt, job_count, lease_owner, lease_expires_at, next_attempt_at, last_error, created_at, updated_at, finished_at)
    OVERRIDING SYSTEM VALUE VALUES
      (1, 'dest-a', 'test', 'finished',   1, 3, NULL, NULL, NULL, NULL, now() - interval '2 hours', now() - interval '110 minutes', now() - interval '110 minutes'),
      (2, 'dest-a', 'test', 'uploading',  1, 2, 'worker-1', now() + interval '1 minute', NULL, NULL, now() - interval '1 minute', now() - interval '1 minute', NULL),
      (3, 'dest-a', 'test', 'importing',  1, 2, NULL, NULL, NULL, NULL, now() - interval '30 minutes', now() - interval '29 minutes', NULL),
      (4, 'dest-b', 'test', 'retry_wait', 1, 2, NULL, NULL, now() + interval '5 minutes', 'HTTP 503', now() - interval '20 minutes', now() - interval '19 minutes', NULL),
      (5, 'dest-a', 'test', 'finished',   1, 2, NULL, NULL, NULL, NULL, now() - interval '15 minutes', now() - interval '14 minutes', now() - interval '14 minutes'),
      (6, 'dest-a', 'test', 'finished',   1, 1, NULL, NULL, NULL, NULL, now() - interval '15 minutes', now() - interval '13 minutes', now() - interval '13 minutes')`.execute(db);
  await sql`SELECT setval(pg_get_serial_sequence('br_uploads', 'id'), 6)`.execute(db);
  await sql`INSERT INTO br_imports (id, upload_id, destination_id, handle) OVERRIDING SYSTEM VALUE VALUES (1, 3, 'dest-a', '{"vendorJob":"v1"}')`.execute(db);
  await sql`SELECT setval(pg_get_serial_sequence('br_imports', 'id'), 1)`.execute(db);
  await sql`
    INSERT INTO br_submissions (id, destination_id, key_id, job_count, state, created_at) VALUES
      ('sub-1', 'dest-b', NULL, 2, 'pending', now() - interval '3 hours')`.execute(db);
  // id, destination, state, attempts, upload, import, key, submission, last_error, reason, error_code, finished (minutes ago), updated (minutes ago), next attempt (minutes from now)
  await sql`
    INSERT INTO br_jobs (id, destination_id, state, attempts, upload_id, import_id, correlation_key, submission_id, last_error, reason,
                         error_code, payload_bytes, created_at, next_attempt_at, updated_at, finished_at, first_failed_at)
    OVERRIDING SYSTEM VALUE
    SELECT v.id, v.dest, v.state, v.attempts, v.upload_id, v.import_id, v.key, v.sub, v.last_error, v.reason, v.code, 20,
           now() - interval '3 hours', coalesce(now() + v.next_in * interval '1 minute', now() - interval '3 hours'),
           coalesce(now() - v.updated_ago * interval '1 minute', now() - interval '3 hours'),
           now() - v.finished_ago * interval '1 minute', CASE WHEN v.last_error IS NOT NULL THEN now() - interval '1 hour' END
    FROM (VALUES
      (1, 'dest-a', 'succeeded', 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, 110, 110, NULL),
      (2, 'dest-a', 'succeeded', 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, 110, 110, NULL),
      (3, 'dest-a', 'aborted',   1, 1, NULL, NULL, NULL, 'bad email', 'bad email', 'record_rejected', 110, 110, NULL),
      (4, 'dest-a', 'waiting',   0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (5, 'dest-a', 'executing', 1, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL),
      (6, 'dest-a', 'executing', 1, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL),
      (7, 'dest-a', 'importing', 1, 3, 1, 'k7', NULL, NULL, NULL, NULL, NULL, 29, NULL),
      (8, 'dest-a', 'importing', 1, 3, 1, 'k8', NULL, NULL, NULL, NULL, NULL, 29, NULL),
      (9, 'dest-b', 'waiting',   1, 4, NULL, NULL, NULL, 'HTTP 503', NULL, 'vendor_unavailable', NULL, 19, 5),
      (10, 'dest-b', 'waiting',  1, 4, NULL, NULL, NULL, 'HTTP 503', NULL, 'vendor_unavailable', NULL, 19, 5),
      (11, 'dest-a', 'succeeded', 1, 5, NULL, NULL, NULL, NULL, NULL, NULL, 14, 14, NULL),
      (12, 'dest-a', 'succeeded', 1, 6, NULL, NULL, NULL, NULL, NULL, NULL, 13, 13, NULL),
      (13, 'dest-a', 'succeeded', 1, 5, NULL, NULL, NULL, NULL, 'field truncated', NULL, 14, 14, NULL),
      (14, 'dest-a', 'waiting',   1, NULL, NULL, NULL, NULL, 'HTTP 503', NULL, 'vendor_unavailable', NULL, 10, 60),
      (15, 'dest-a', 'waiting',   0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (16, 'dest-a', 'cancelled', 0, NULL, NULL, NULL, NULL, NULL, 'withdrawn', 'cancelled', 5, 5, NULL),
      (17, 'dest-b', 'waiting',   0, NULL, NULL, NULL, 'sub-1', NULL, NULL, NULL, NULL, NULL, NULL),
      (18, 'dest-b', 'waiting',   0, NULL, NULL, NULL, 'sub-1', NULL, NULL, NULL, NULL, NULL, NULL)
    ) AS v(id, dest, state, attempts, upload_id, import_id, key, sub, last_error, reason, code, finished_ago, updated_ago, next_in)`.execute(db);
  // Times of one upload's plain successes must be identical, as one statement's now() made them.
  await sql`UPDATE br_jobs SET updated_at = u.finished_at, finished_at = u.finished_at FROM br_uploads u
            WHERE br_jobs.upload_id = u.id AND br_jobs.state = 'succeeded' AND br_jobs.reason IS NULL`.execute(db);
  await sql`UPDATE br_jobs SET updated_at = u.created_at FROM br_uploads u WHERE br_jobs.upload_id = u.id AND br_jobs.state = 'executing'`.execute(db);
  await sql`SELECT setval(pg_get_serial_sequence('br_jobs', 'id'), 18)`.execute(db);
  await sql`INSERT INTO br_job_payloads (job_id, payload) SELECT id, '{"n":' || id || '}' FROM br_jobs`.execute(db);
}

async function snapshot(db: Kysely<any>) {
  const read = async (query: ReturnType<typeof sql>) => (await query.execute(db)).rows;
  return {
    jobs: await read(sql`SELECT * FROM br_jobs ORDER BY id`),
    payloads: await read(sql`SELECT job_id, payload FROM br_job_payloads ORDER BY job_id`),
    uploads: await read(sql`SELECT id, destination_id, manager, state, attempt, job_count, bytes, lease_owner, lease_expires_at,
                                   next_attempt_at, last_error, error_code, created_at, updated_at, finished_at FROM br_uploads ORDER BY id`),
    imports: await read(sql`SELECT * FROM br_imports ORDER BY id`),
    submissions: await read(sql`SELECT * FROM br_submissions ORDER BY id`),
  };
}

describe('migration 2026-12-06 (the job store around the upload)', () => {
  it('keeps every job, payload, upload, import and submission reading as before, and the store works on them', async () => {
    t = await createTestDatabase({ migrated: false });
    const migrator = new Migrator({
      db: t.db,
      provider: new FolderMigrationProvider(),
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
    });
    const { error } = await migrator.migrateTo(BEFORE_REDESIGN);
    expect(error).toBeUndefined();
    await populateOldSchema(t.db);
    const before = await snapshot(t.db);
    const rowsBefore = (before.jobs as Array<Record<string, unknown>>).map((j) => j.id);
    expect(rowsBefore).toHaveLength(18);

    expect(await migrateToLatest(t.db)).toContain('2026-12-06T00-00-00_append-only-jobs');
    expect(await snapshot(t.db)).toEqual(before);

    const { rows: exceptions } = await sql<{ job_id: string }>`SELECT job_id FROM br_job_exceptions ORDER BY job_id`.execute(t.db);
    // 3 aborted, 4 waiting below the cursor, 7-8 importing, 9-10 in a retry upload, 11 and 13 in a
    // non-contiguous upload, 14 a scheduled retry, 16 cancelled.
    expect(exceptions.map((e) => Number(e.job_id))).toEqual([3, 4, 7, 8, 9, 10, 11, 13, 14, 16]);
    const { rows: ranges } = await sql<{ id: string; first_job_id: string | null; last_job_id: string | null; jobs_state: string }>`
      SELECT id, first_job_id, last_job_id, jobs_state FROM br_uploads ORDER BY id`.execute(t.db);
    expect(ranges.map((u) => [u.id, u.first_job_id, u.last_job_id, u.jobs_state])).toEqual([
      ['1', '1', '3', 'succeeded'], ['2', '5', '6', 'executing'], ['3', '7', '8', 'executing'],
      ['4', '9', '10', 'executing'], ['5', null, null, 'executing'], ['6', '12', '12', 'succeeded'],
    ]);

    // The counts from the tables agree with the view.
    const { rows: viewCounts } = await sql<{ destination_id: string; state: string; n: string }>`
      SELECT destination_id, state, count(*) AS n FROM br_jobs GROUP BY 1, 2`.execute(t.db);
    const fromTables = (await countByDestinationAndState(t.db)).map((c) => `${c.destinationId}/${c.state}=${c.count}`).sort();
    expect(fromTables).toEqual(viewCounts.map((c) => `${c.destination_id}/${c.state}=${c.n}`).sort());

    // A claim takes the due retry below the cursor first, then the new job above it; not the
    // retry scheduled an hour ahead, not the cancelled job.
    const { id: uploadId } = await createUpload(t.db, { destinationId: 'dest-a', manager: 'test', lease: { owner: 'w', ms: 60_000 } });
    const claimed = await claimReadyJobs(t.db, { destinationId: 'dest-a', uploadId, limit: 10, maxBytes: 1e9 });
    expect(claimed.map((j) => [j.id, j.attempts, j.payload])).toEqual([['4', 1, '{"n":4}'], ['15', 1, '{"n":15}']]);
    expect(await markAllSucceeded(t.db, { state: 'executing', uploadId: '2' })).toBe(2);
    const { rows: done } = await sql<{ state: string }>`SELECT state FROM br_jobs WHERE id IN (5, 6)`.execute(t.db);
    expect(done.map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
    expect(Number((await insertJobs(t.db, 'dest-a', ['{"n":19}']))[0])).toBeGreaterThan(18);
  });
});
