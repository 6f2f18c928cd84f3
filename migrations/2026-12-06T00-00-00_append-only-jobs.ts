/**
 * The job store around the upload (issue 13 §3, docs/store-design.md "Build plan"). Frozen like
 * every migration.
 *
 * - `br_job_rows` (append-only: id, destination, submission, size, created_at) and
 *   `br_job_payloads` are written once at enqueue and never updated.
 * - `br_job_exceptions` holds at most one row per job, only for a job that did not simply go
 *   with its upload (retried, aborted, cancelled, warned, importing, or moved to another upload).
 * - `br_uploads` names the id range it claimed (`first_job_id`..`last_job_id`) and the state of
 *   the range's jobs without an exception row (`jobs_state`): a whole-upload success is one
 *   UPDATE of the upload, not one per job.
 * - `br_claim_cursors` holds, per destination, the highest id handed to an upload.
 * - `br_jobs` becomes a view with the old columns (see the SQL below for how a job's state is
 *   derived), and an INSTEAD OF UPDATE trigger turns updates of it into guarded upserts of the
 *   exception row, so cold paths and operators keep writing `UPDATE br_jobs ...`.
 *
 * The three job tables are range-partitioned by job id, 1,000,000 ids per partition, with a
 * DEFAULT partition so an enqueue never fails; retention drops whole partitions.
 *
 * Existing data moves forward with ids preserved: every upload whose jobs are contiguous among its
 * destination's jobs gets that range; each destination's cursor is the highest id in an upload;
 * then every job whose old row differs from what the new tables derive gets an exception row with
 * its old values, and so does every job below its cursor outside a range (a waiting job there
 * becomes a queued retry). Reading `br_jobs` after the migration gives what it gave before.
 */
import { sql, type Kysely } from 'kysely';

const WIDTH = 1_000_000;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE br_jobs RENAME TO br_jobs_old`.execute(db);
  await sql`ALTER TABLE br_job_payloads RENAME TO br_job_payloads_old`.execute(db);
  await sql`ALTER INDEX br_job_payloads_pkey RENAME TO br_job_payloads_old_pkey`.execute(db);

  await sql`CREATE SEQUENCE br_job_ids`.execute(db);
  await sql`SELECT setval('br_job_ids', greatest(v, 1), v >= 1) FROM (
              SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('br_jobs_old', 'id')::regclass), 0) AS v) s`.execute(db);

  await sql`
    CREATE TABLE br_job_rows (
      id             bigint      NOT NULL DEFAULT nextval('br_job_ids'),
      destination_id text        NOT NULL,
      submission_id  text,
      payload_bytes  integer     NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (id)
    ) PARTITION BY RANGE (id)`.execute(db);
  await sql`ALTER SEQUENCE br_job_ids OWNED BY br_job_rows.id`.execute(db);
  await sql`
    CREATE TABLE br_job_payloads (
      job_id  bigint NOT NULL,
      payload text   NOT NULL,
      PRIMARY KEY (job_id)
    ) PARTITION BY RANGE (job_id)`.execute(db);
  await sql`
    CREATE TABLE br_job_exceptions (
      job_id          bigint      NOT NULL,
      destination_id  text        NOT NULL,
      state           text        NOT NULL
        CHECK (state IN ('waiting', 'executing', 'importing', 'succeeded', 'aborted', 'cancelled')),
      attempts        integer     NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      first_failed_at timestamptz,
      upload_id       bigint,
      import_id       bigint,
      correlation_key text,
      last_error      text,
      error_code      text,
      vendor_code     text,
      reason          text,
      updated_at      timestamptz NOT NULL DEFAULT now(),
      finished_at     timestamptz,
      PRIMARY KEY (job_id)
    ) PARTITION BY RANGE (job_id)`.execute(db);
  for (const table of ['br_job_rows', 'br_job_payloads', 'br_job_exceptions']) {
    await sql`CREATE TABLE ${sql.id(`${table}_default`)} PARTITION OF ${sql.id(table)} DEFAULT`.execute(db);
  }
  // The sweeper calls this too (src/store/job-partitions.ts), so partition DDL lives in one place.
  // A range whose ids already sit in the DEFAULT partition cannot be attached; it is skipped with
  // a warning rather than failing the caller (those jobs simply stay in DEFAULT).
  await sql.raw(`
    CREATE FUNCTION br_ensure_job_partitions(from_id bigint, through_id bigint) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
      n bigint;
      created integer := 0;
      t text;
    BEGIN
      FOR n IN (greatest(from_id, 0) / ${WIDTH}) .. (greatest(through_id, 0) / ${WIDTH}) LOOP
        CONTINUE WHEN to_regclass('br_job_rows_p' || n) IS NOT NULL;
        BEGIN
          FOREACH t IN ARRAY ARRAY['br_job_rows', 'br_job_payloads', 'br_job_exceptions'] LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                           t || '_p' || n, t, n * ${WIDTH}, (n + 1) * ${WIDTH});
          END LOOP;
          created := created + 1;
        EXCEPTION WHEN check_violation THEN
          RAISE WARNING 'job partition % not created: its ids are already in the DEFAULT partition', n;
        END;
      END LOOP;
      RETURN created;
    END $$`).execute(db);
  await sql`SELECT br_ensure_job_partitions(coalesce(min(id), 0), coalesce(max(id), 0) + ${2 * WIDTH}) FROM br_jobs_old`.execute(db);

  // Claim of new jobs: one destination's ids in order. Submissions: the API's lookups.
  await sql`CREATE INDEX br_job_rows_destination_idx ON br_job_rows (destination_id, id)`.execute(db);
  await sql`CREATE INDEX br_job_rows_submission_idx ON br_job_rows (submission_id, id) WHERE submission_id IS NOT NULL`.execute(db);
  // The retry queue: due retries of a destination, claimed before new jobs.
  await sql`CREATE INDEX br_job_exceptions_retry_idx ON br_job_exceptions (destination_id, next_attempt_at, job_id)
            WHERE state = 'waiting' AND upload_id IS NULL`.execute(db);
  await sql`CREATE INDEX br_job_exceptions_upload_idx ON br_job_exceptions (upload_id) WHERE upload_id IS NOT NULL`.execute(db);
  await sql`CREATE INDEX br_job_exceptions_import_idx ON br_job_exceptions (import_id) WHERE state = 'importing'`.execute(db);
  await sql`CREATE INDEX br_job_exceptions_destination_idx ON br_job_exceptions (destination_id, state)`.execute(db);

  await sql`INSERT INTO br_job_rows (id, destination_id, submission_id, payload_bytes, created_at)
            SELECT id, destination_id, submission_id, payload_bytes, created_at FROM br_jobs_old`.execute(db);
  await sql`INSERT INTO br_job_payloads (job_id, payload) SELECT job_id, payload FROM br_job_payloads_old`.execute(db);

  await sql`ALTER TABLE br_uploads
            ADD COLUMN first_job_id bigint, ADD COLUMN last_job_id bigint,
            ADD COLUMN range_count integer NOT NULL DEFAULT 0,
            ADD COLUMN jobs_state text NOT NULL DEFAULT 'executing' CHECK (jobs_state IN ('executing', 'succeeded')),
            ADD COLUMN jobs_finished_at timestamptz`.execute(db);
  await sql`CREATE INDEX br_uploads_range_idx ON br_uploads (destination_id, first_job_id) WHERE first_job_id IS NOT NULL`.execute(db);
  await sql`
    CREATE TABLE br_claim_cursors (
      destination_id  text   PRIMARY KEY,
      claimed_through bigint NOT NULL
    )`.execute(db);

  // Ranges: an upload whose jobs are all of its destination's jobs between its lowest and highest id.
  await sql`
    WITH spans AS (
      SELECT upload_id, destination_id, min(id) AS first_id, max(id) AS last_id, count(*) AS n,
             count(*) FILTER (WHERE state = 'succeeded') AS succeeded, count(*) FILTER (WHERE state = 'executing') AS executing,
             mode() WITHIN GROUP (ORDER BY finished_at) FILTER (WHERE state = 'succeeded') AS finished_at
      FROM br_jobs_old WHERE upload_id IS NOT NULL GROUP BY upload_id, destination_id
    ), contiguous AS (
      SELECT s.* FROM spans s
      WHERE s.n = (SELECT count(*) FROM br_jobs_old o WHERE o.destination_id = s.destination_id AND o.id BETWEEN s.first_id AND s.last_id)
        AND NOT EXISTS (SELECT 1 FROM spans x WHERE x.upload_id = s.upload_id AND x.destination_id <> s.destination_id)
    )
    UPDATE br_uploads u SET first_job_id = c.first_id, last_job_id = c.last_id, range_count = c.n,
      jobs_state = CASE WHEN c.succeeded > 0 AND c.succeeded >= c.executing THEN 'succeeded' ELSE 'executing' END,
      jobs_finished_at = CASE WHEN c.succeeded > 0 AND c.succeeded >= c.executing THEN c.finished_at END
    FROM contiguous c WHERE u.id = c.upload_id AND u.destination_id = c.destination_id`.execute(db);
  await sql`INSERT INTO br_claim_cursors (destination_id, claimed_through)
            SELECT destination_id, coalesce(max(id) FILTER (WHERE upload_id IS NOT NULL), 0) FROM br_jobs_old GROUP BY destination_id`.execute(db);

  await createJobsView(db);

  // Every job the new tables do not already describe exactly keeps its old row as an exception.
  await sql`
    INSERT INTO br_job_exceptions (job_id, destination_id, state, attempts, next_attempt_at, first_failed_at, upload_id,
                                   import_id, correlation_key, last_error, error_code, vendor_code, reason, updated_at, finished_at)
    SELECT o.id, o.destination_id, o.state, o.attempts, o.next_attempt_at, o.first_failed_at, o.upload_id,
           o.import_id, o.correlation_key, o.last_error, o.error_code, o.vendor_code, o.reason, o.updated_at, o.finished_at
    FROM br_jobs_old o JOIN br_jobs v ON v.id = o.id
    LEFT JOIN br_claim_cursors c ON c.destination_id = o.destination_id
    WHERE (o.state, o.attempts, o.next_attempt_at, o.first_failed_at, o.upload_id, o.import_id, o.correlation_key, o.last_error,
           o.error_code, o.vendor_code, o.reason, o.updated_at, o.finished_at)
          IS DISTINCT FROM
          (v.state, v.attempts, v.next_attempt_at, v.first_failed_at, v.upload_id, v.import_id, v.correlation_key, v.last_error,
           v.error_code, v.vendor_code, v.reason, v.updated_at, v.finished_at)
       OR (v.upload_id IS NULL AND o.id <= c.claimed_through)`.execute(db);

  await sql`DROP TABLE br_jobs_old, br_job_payloads_old`.execute(db);
}

async function createJobsView(db: Kysely<any>): Promise<void> {
  // A job's state: its exception row if it has one; else, inside an upload's range, the range's
  // jobs_state; else waiting (above its destination's cursor). The upload is found by one index
  // probe on (destination_id, first_job_id): ranges of one destination never overlap.
  await sql`
    CREATE VIEW br_jobs AS
    SELECT r.id, r.destination_id,
      coalesce(e.state, u.jobs_state, 'waiting') AS state,
      coalesce(e.attempts, CASE WHEN u.id IS NULL THEN 0 ELSE 1 END) AS attempts,
      coalesce(e.next_attempt_at, r.created_at) AS next_attempt_at,
      e.first_failed_at,
      CASE WHEN e.job_id IS NULL THEN u.id ELSE e.upload_id END AS upload_id,
      e.import_id, e.correlation_key, r.payload_bytes, r.submission_id, e.last_error, e.reason, r.created_at,
      CASE WHEN e.job_id IS NOT NULL THEN e.updated_at WHEN u.id IS NOT NULL THEN coalesce(u.jobs_finished_at, u.created_at)
           ELSE r.created_at END AS updated_at,
      CASE WHEN e.job_id IS NULL THEN u.jobs_finished_at ELSE e.finished_at END AS finished_at,
      e.error_code, e.vendor_code
    FROM br_job_rows r
    LEFT JOIN br_job_exceptions e ON e.job_id = r.id
    LEFT JOIN LATERAL (
      SELECT id, jobs_state, jobs_finished_at, created_at, last_job_id FROM br_uploads
      WHERE destination_id = r.destination_id AND first_job_id <= r.id AND first_job_id IS NOT NULL
      ORDER BY first_job_id DESC LIMIT 1
    ) u ON u.last_job_id >= r.id`.execute(db);

  // UPDATE br_jobs: an upsert of the exception row with the NEW values, under the guard of the OLD
  // ones (a view row has no row lock, so a concurrent change must make this write nothing).
  // Returning NULL leaves the row out of the statement's count, which the transitions return.
  await sql`
    CREATE FUNCTION br_jobs_update() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      current_ok boolean;
    BEGIN
      IF (NEW.id, NEW.destination_id, NEW.submission_id, NEW.payload_bytes, NEW.created_at)
         IS DISTINCT FROM (OLD.id, OLD.destination_id, OLD.submission_id, OLD.payload_bytes, OLD.created_at) THEN
        RAISE EXCEPTION 'br_jobs: id, destination_id, submission_id, payload_bytes and created_at are append-only';
      END IF;
      UPDATE br_job_exceptions e SET state = NEW.state, attempts = NEW.attempts, next_attempt_at = NEW.next_attempt_at,
        first_failed_at = NEW.first_failed_at, upload_id = NEW.upload_id, import_id = NEW.import_id,
        correlation_key = NEW.correlation_key, last_error = NEW.last_error, error_code = NEW.error_code,
        vendor_code = NEW.vendor_code, reason = NEW.reason, updated_at = NEW.updated_at, finished_at = NEW.finished_at
      WHERE e.job_id = OLD.id AND e.state = OLD.state AND e.upload_id IS NOT DISTINCT FROM OLD.upload_id
        AND e.import_id IS NOT DISTINCT FROM OLD.import_id;
      IF FOUND THEN RETURN NEW; END IF;
      -- No exception row matched. Without one, the job is either in an upload's range (its state
      -- is the range's, held still by a share lock on the upload) or waiting above its cursor.
      IF OLD.import_id IS NOT NULL THEN RETURN NULL; END IF;
      IF OLD.upload_id IS NULL THEN
        current_ok := OLD.state = 'waiting' AND OLD.id > coalesce(
          (SELECT claimed_through FROM br_claim_cursors WHERE destination_id = OLD.destination_id), 0);
      ELSE
        PERFORM 1 FROM br_uploads u WHERE u.id = OLD.upload_id AND u.jobs_state = OLD.state
          AND OLD.id BETWEEN u.first_job_id AND u.last_job_id FOR SHARE;
        current_ok := FOUND;
      END IF;
      IF NOT current_ok THEN RETURN NULL; END IF;
      INSERT INTO br_job_exceptions (job_id, destination_id, state, attempts, next_attempt_at, first_failed_at, upload_id,
                                     import_id, correlation_key, last_error, error_code, vendor_code, reason, updated_at, finished_at)
      VALUES (OLD.id, OLD.destination_id, NEW.state, NEW.attempts, NEW.next_attempt_at, NEW.first_failed_at, NEW.upload_id,
              NEW.import_id, NEW.correlation_key, NEW.last_error, NEW.error_code, NEW.vendor_code, NEW.reason,
              NEW.updated_at, NEW.finished_at)
      ON CONFLICT (job_id) DO NOTHING;
      IF FOUND THEN RETURN NEW; END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER br_jobs_update INSTEAD OF UPDATE ON br_jobs FOR EACH ROW EXECUTE FUNCTION br_jobs_update()`.execute(db);
}
