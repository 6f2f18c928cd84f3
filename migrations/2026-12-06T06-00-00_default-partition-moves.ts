/**
 * `br_ensure_job_partitions` moves jobs out of the DEFAULT partition instead of skipping their
 * range (docs/store-design.md, "Partitions"). Ids beyond the partitions made ahead land in
 * DEFAULT; PostgreSQL refuses `CREATE TABLE ... PARTITION OF` while DEFAULT holds rows of the new
 * range, and before this such jobs stayed there for good, out of reach of retention (which drops
 * whole partitions). Now, for such a range, in the caller's transaction and per job table:
 * the table is made standalone (`LIKE` the parent), the range's rows move into it in one
 * `DELETE ... RETURNING` from DEFAULT, and it is attached. The three DEFAULT partitions are
 * locked first (EXCLUSIVE: reads go on, inserts wait) in the order an enqueue writes them, so no
 * row of the range can arrive between the move and the attach. The one DELETE touches only the
 * overflow, off the hot path, and only when the sweeper fell behind the id sequence.
 * A lock timeout or deadlock skips the range with a warning; the next sweep tries again.
 */
import { sql, type Kysely } from 'kysely';

const WIDTH = 1_000_000;

export async function up(db: Kysely<any>): Promise<void> {
  await sql.raw(`
    CREATE OR REPLACE FUNCTION br_ensure_job_partitions(from_id bigint, through_id bigint) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
      n bigint;
      created integer := 0;
      t text;
      id_column text;
      in_default boolean;
    BEGIN
      FOR n IN (greatest(from_id, 0) / ${WIDTH}) .. (greatest(through_id, 0) / ${WIDTH}) LOOP
        CONTINUE WHEN to_regclass('br_job_rows_p' || n) IS NOT NULL;
        BEGIN
          LOCK TABLE br_job_rows_default, br_job_payloads_default, br_job_exceptions_default IN EXCLUSIVE MODE;
          CONTINUE WHEN to_regclass('br_job_rows_p' || n) IS NOT NULL;
          FOREACH t IN ARRAY ARRAY['br_job_rows', 'br_job_payloads', 'br_job_exceptions'] LOOP
            id_column := CASE t WHEN 'br_job_rows' THEN 'id' ELSE 'job_id' END;
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= %s AND %I < %s)',
                           t || '_default', id_column, n * ${WIDTH}, id_column, (n + 1) * ${WIDTH}) INTO in_default;
            IF NOT in_default THEN
              EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                             t || '_p' || n, t, n * ${WIDTH}, (n + 1) * ${WIDTH});
            ELSE
              EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', t || '_p' || n, t);
              EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %s AND %I < %s RETURNING *) INSERT INTO %I SELECT * FROM moved',
                             t || '_default', id_column, n * ${WIDTH}, id_column, (n + 1) * ${WIDTH}, t || '_p' || n);
              EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                             t, t || '_p' || n, n * ${WIDTH}, (n + 1) * ${WIDTH});
            END IF;
          END LOOP;
          created := created + 1;
        EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
          RAISE WARNING 'job partition % not made now: the DEFAULT partition is busy; the next sweep tries again', n;
        END;
      END LOOP;
      RETURN created;
    END $$`).execute(db);
}
