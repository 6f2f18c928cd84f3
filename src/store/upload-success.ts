/**
 * The common end of an upload: the vendor accepted every job, none with a warning, no import to
 * poll. One statement ends the attempt and marks the range and the retried jobs succeeded. On the
 * hot path it runs inside the claim function (src/store/claim-function.ts), which records the
 * upload and claims the next in one round trip; `recordUploadSucceeded` is the same recording on
 * its own, for a worker that takes no new upload (it is stopping, or that call failed).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { prepared } from '../db/prepared-statements.ts';
import type { Database } from '../db/schema.ts';
import type { SqlArgument } from './claim-gate.ts';
import { sameDestination } from './destination-scope.ts';

type Db = Kysely<Database>;

/**
 * Ends attempt `attempt` of the upload as `finished` with every job succeeded, under the same
 * guard as `endUploadAttempt` (still `uploading`, owned by `owner`, same attempt): when the guard
 * fails nothing changes and `recorded` is false. Otherwise the range's jobs without an exception
 * row become succeeded through the upload row (`jobs_state`), and the upload's exception rows still
 * `executing` (retries riding along) become succeeded; `succeeded` counts both, as `markAllSucceeded` does.
 */
export async function recordUploadSucceeded(
  db: Db,
  options: { uploadId: string; destinationId?: string; owner: string; attempt: number; jobCount: number; bytes: number },
): Promise<{ recorded: boolean; succeeded: number }> {
  if (!db.isTransaction) return db.transaction().execute((trx) => recordUploadSucceeded(trx, options));
  await holdUploadRowSql(options.uploadId, options.destinationId).execute(db);
  const { rows } = await sql<{ recorded: boolean; n: string }>`${prepared}${recordUploadSucceededSql(options)}`.execute(db);
  return { recorded: rows[0]!.recorded, succeeded: Number(rows[0]!.n) };
}

/**
 * The number of exception rows in the id range of upload row `upload` (an alias with
 * `first_job_id`, `last_job_id`, `destination_id`): what an upload's end subtracts from its
 * `range_count`. The range is the only index condition, the destination compared on the rows it
 * yields (as `noExceptionRow` does, src/store/claim-gate.ts): with the destination a condition too,
 * a plan made while the exception partition was analyzed empty read the (destination_id, state)
 * index for it, that is every exception row of the destination, on every upload's end
 * (test/store/transition-plans.test.ts). A job's exception row always carries the job's
 * destination; the comparison keeps the statement's meaning on a store distributed by it.
 */
export function exceptionRowsInRangeSql(upload: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`(SELECT count(*) FROM br_job_exceptions x
    WHERE x.job_id BETWEEN ${upload}.first_job_id AND ${upload}.last_job_id
      AND x.destination_id IS NOT DISTINCT FROM ${upload}.destination_id)`;
}

/**
 * Locks the upload row before a statement that counts its range's jobs by their exception rows.
 * A verdict on a range job (the view's trigger, `writeGuarded`) holds this row by a share lock
 * while it inserts the job's exception row; a counting statement that only met that lock inside
 * its own UPDATE would wait for it and then count from the snapshot it took before the wait,
 * which misses the row. Held first, in its own statement, the lock makes the counting statement's
 * snapshot (READ COMMITTED: one per statement, in PL/pgSQL too) see every verdict committed
 * before it, and no new one can start until the transaction ends.
 */
export function holdUploadRowSql(uploadId: SqlArgument, destinationId?: string | RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`SELECT 1 FROM br_uploads WHERE ${sameDestination(sql.ref('destination_id'), destinationId)} AND id = ${uploadId}::bigint FOR NO KEY UPDATE`;
}

/**
 * recordUploadSucceeded's statement; its values are parameters, or (in the claim function's body,
 * src/store/claim-function.ts) the function's argument names. It ends in `SELECT <recorded>, <n>`
 * followed by `into`, which there is PL/pgSQL's `INTO` of two variables.
 */
export function recordUploadSucceededSql(options: {
  uploadId: SqlArgument;
  destinationId?: string | RawBuilder<unknown>;
  owner: SqlArgument;
  attempt: SqlArgument;
  jobCount: SqlArgument;
  bytes: SqlArgument;
}, into: RawBuilder<unknown> = sql``): RawBuilder<{ recorded: boolean; n: string }> {
  const { uploadId } = options;
  const inDestination = (column: string) => sameDestination(sql.ref(column), options.destinationId);
  return sql<{ recorded: boolean; n: string }>`
    WITH before AS (
      SELECT jobs_state FROM br_uploads WHERE ${inDestination('destination_id')} AND id = ${uploadId}::bigint
    ), ended AS (
      UPDATE br_uploads u SET state = 'finished', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
        job_count = ${options.jobCount}, bytes = ${options.bytes}, finished_at = now(), updated_at = now(),
        jobs_state = CASE WHEN u.first_job_id IS NULL THEN u.jobs_state ELSE 'succeeded' END,
        jobs_finished_at = CASE WHEN u.first_job_id IS NOT NULL AND u.jobs_state = 'executing' THEN now() ELSE u.jobs_finished_at END
      WHERE ${inDestination('u.destination_id')} AND u.id = ${uploadId}::bigint AND u.state = 'uploading' AND u.lease_owner = ${options.owner}
        AND u.attempt = ${options.attempt}
      RETURNING u.id, u.destination_id, u.first_job_id, u.last_job_id, u.range_count
    ), ranged AS (
      SELECT e.range_count - ${exceptionRowsInRangeSql(sql`e`)} AS n
      FROM ended e, before b WHERE e.first_job_id IS NOT NULL AND b.jobs_state = 'executing'
    ), listed AS (
      UPDATE br_job_exceptions SET state = 'succeeded', finished_at = now(), updated_at = now()
      WHERE ${inDestination('destination_id')} AND upload_id = ${uploadId}::bigint AND state = 'executing' AND EXISTS (SELECT 1 FROM ended)
      RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM ended) AS recorded,
           coalesce((SELECT sum(n) FROM ranged), 0) + (SELECT count(*) FROM listed) AS n ${into}
  `;
}
