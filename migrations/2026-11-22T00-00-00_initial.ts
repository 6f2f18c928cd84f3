/**
 * Initial schema. Frozen: later changes go in new migrations.
 *
 * Design for throughput:
 * - `br_jobs` is narrow and updated on every state change; the event itself lives in
 *   `br_job_payloads`, written once at enqueue and never rewritten, so a state change copies
 *   ~150 bytes, not the payload.
 * - Claims read a partial index over waiting jobs only, so millions of finished rows do not slow
 *   them down; the other hot lookups (expired leases, open imports) are partial indexes too.
 * - Finished jobs are deleted by the retention sweep through a partial index on `finished_at`.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE br_jobs (
      id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      destination_id  text        NOT NULL,
      state           text        NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'executing', 'importing', 'succeeded', 'aborted', 'cancelled')),
      attempts        integer     NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      first_failed_at timestamptz,
      upload_id       bigint,
      import_id       bigint,
      correlation_key text,
      payload_bytes   integer     NOT NULL,
      submission_id   text,
      last_error      text,
      reason          text,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      finished_at     timestamptz
    ) WITH (fillfactor = 90)
  `.execute(db);
  await sql`
    CREATE TABLE br_job_payloads (
      job_id  bigint PRIMARY KEY,
      payload jsonb  NOT NULL
    )
  `.execute(db);
  await sql`
    CREATE TABLE br_uploads (
      id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      destination_id   text        NOT NULL,
      manager          text        NOT NULL,
      state            text        NOT NULL
        CHECK (state IN ('uploading', 'retry_wait', 'importing', 'finished')),
      attempt          integer     NOT NULL DEFAULT 1,
      job_count        integer     NOT NULL,
      bytes            bigint      NOT NULL DEFAULT 0,
      lease_owner      text,
      lease_expires_at timestamptz,
      next_attempt_at  timestamptz,
      last_error       text,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      finished_at      timestamptz
    )
  `.execute(db);
  await sql`
    CREATE TABLE br_imports (
      id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      upload_id        bigint      NOT NULL REFERENCES br_uploads (id) ON DELETE CASCADE,
      destination_id   text        NOT NULL,
      handle           jsonb       NOT NULL,
      state            text        NOT NULL DEFAULT 'polling'
        CHECK (state IN ('polling', 'completed', 'failed')),
      progress         real,
      poll_count       integer     NOT NULL DEFAULT 0,
      next_poll_at     timestamptz NOT NULL DEFAULT now(),
      lease_owner      text,
      lease_expires_at timestamptz,
      last_error       text,
      started_at       timestamptz NOT NULL DEFAULT now(),
      finished_at      timestamptz
    )
  `.execute(db);

  // Claim path: next ready jobs of one destination, oldest first.
  await sql`CREATE INDEX br_jobs_claim_idx ON br_jobs (destination_id, next_attempt_at, id)
            WHERE state = 'waiting' AND upload_id IS NULL`.execute(db);
  // Jobs that belong to an upload: staging for retries, lease recovery, finishing.
  await sql`CREATE INDEX br_jobs_upload_idx ON br_jobs (upload_id) WHERE upload_id IS NOT NULL`.execute(db);
  await sql`CREATE INDEX br_jobs_import_idx ON br_jobs (import_id) WHERE state = 'importing'`.execute(db);
  await sql`CREATE INDEX br_jobs_submission_idx ON br_jobs (submission_id, id) WHERE submission_id IS NOT NULL`.execute(db);
  // Listing by destination and state, newest first (CLI, API, counts).
  await sql`CREATE INDEX br_jobs_destination_state_idx ON br_jobs (destination_id, state, id)`.execute(db);
  // Retention sweep.
  await sql`CREATE INDEX br_jobs_finished_idx ON br_jobs (finished_at)
            WHERE state IN ('succeeded', 'aborted', 'cancelled')`.execute(db);

  await sql`CREATE INDEX br_uploads_open_idx ON br_uploads (destination_id, state)
            WHERE state <> 'finished'`.execute(db);
  await sql`CREATE INDEX br_uploads_finished_idx ON br_uploads (finished_at) WHERE state = 'finished'`.execute(db);
  await sql`CREATE INDEX br_imports_due_idx ON br_imports (next_poll_at) WHERE state = 'polling'`.execute(db);
  await sql`CREATE INDEX br_imports_upload_idx ON br_imports (upload_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS br_imports, br_uploads, br_job_payloads, br_jobs`.execute(db);
}
