/**
 * Tables of the HTTP API: submissions (one per accepted POST /events), idempotency keys, and
 * callback deliveries. Frozen like every migration: later changes go in new files.
 *
 * - A submission's live state is derived from its jobs (`br_jobs.submission_id`); the row keeps
 *   what must outlive the jobs (retention deletes them): the final state, a summary of counts and
 *   first errors, and the callback URL.
 * - `br_jobs_submission_open_idx` lists only unfinished jobs of submissions, so "has this
 *   submission reached a final state?" is one index probe, not a scan of its 10,000 jobs. Jobs
 *   enqueued without a submission (CLI, SQL) are outside its predicate and cost nothing.
 * - Callback deliveries are claimed under a lease with SKIP LOCKED, like imports, so several API
 *   processes never send the same attempt twice; the body is stored so every retry sends the
 *   same bytes under the same `webhook-id`.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE br_submissions (
      id             text        PRIMARY KEY,
      destination_id text        NOT NULL,
      key_id         text,
      job_count      integer     NOT NULL,
      state          text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'completed', 'failed', 'partial', 'cancelled')),
      summary        jsonb,
      callback_url   text,
      created_at     timestamptz NOT NULL DEFAULT now(),
      completed_at   timestamptz
    )
  `.execute(db);
  await sql`CREATE INDEX br_submissions_pending_idx ON br_submissions (created_at) WHERE state = 'pending'`.execute(db);
  await sql`CREATE INDEX br_submissions_completed_idx ON br_submissions (completed_at) WHERE state <> 'pending'`.execute(db);
  await sql`CREATE INDEX br_jobs_submission_open_idx ON br_jobs (submission_id)
            WHERE submission_id IS NOT NULL AND state IN ('waiting', 'executing', 'importing')`.execute(db);

  await sql`
    CREATE TABLE br_idempotency_keys (
      key_id          text        NOT NULL,
      idempotency_key text        NOT NULL,
      request_hash    text        NOT NULL,
      submission_id   text        NOT NULL,
      response        jsonb,
      created_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (key_id, idempotency_key)
    )
  `.execute(db);
  await sql`CREATE INDEX br_idempotency_keys_created_idx ON br_idempotency_keys (created_at)`.execute(db);

  await sql`
    CREATE TABLE br_callback_deliveries (
      id               text        PRIMARY KEY,
      submission_id    text        NOT NULL REFERENCES br_submissions (id) ON DELETE CASCADE,
      url              text        NOT NULL,
      body             text        NOT NULL,
      state            text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'failed', 'gone')),
      attempts         integer     NOT NULL DEFAULT 0,
      next_attempt_at  timestamptz NOT NULL DEFAULT now(),
      last_status      integer,
      last_error       text,
      last_attempt_at  timestamptz,
      lease_owner      text,
      lease_expires_at timestamptz,
      created_at       timestamptz NOT NULL DEFAULT now(),
      finished_at      timestamptz
    )
  `.execute(db);
  await sql`CREATE INDEX br_callback_deliveries_due_idx ON br_callback_deliveries (next_attempt_at)
            WHERE state = 'pending'`.execute(db);
  await sql`CREATE INDEX br_callback_deliveries_submission_idx ON br_callback_deliveries (submission_id, created_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS br_jobs_submission_open_idx`.execute(db);
  await sql`DROP TABLE IF EXISTS br_callback_deliveries, br_idempotency_keys, br_submissions`.execute(db);
}
