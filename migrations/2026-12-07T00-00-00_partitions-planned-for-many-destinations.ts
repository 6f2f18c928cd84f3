/**
 * Every partition of `br_job_rows` and `br_job_exceptions` is planned as holding many
 * destinations: the column option `n_distinct` on `destination_id`, set by
 * `br_ensure_job_partitions` on each partition it makes (a partition does not inherit its parent's
 * column options) and here on the partitions that exist, which are analyzed again so their
 * statistics carry it.
 *
 * Why: the router's statements are generic plans, in which `destination_id = $1` is estimated as
 * one row in n_distinct. A partition analyzed while one destination had every row (n_distinct 1)
 * makes that "every row", and the gate's and the claim's scans then walk the partition's id index
 * from the cursor, filtering by destination, instead of the (destination_id, id) index: the idle
 * gate of a second destination read the first one's 300,000 rows, 55 ms per look (0.7 ms with the
 * option). With one destination only, the (destination_id, id) index serves it as well.
 */
import { sql, type Kysely } from 'kysely';

const WIDTH = 1_000_000;
/** What the planner is told a job partition's count of distinct destinations is. */
const PLANNED_DESTINATIONS = 100;

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
            IF t <> 'br_job_payloads' THEN
              EXECUTE format('ALTER TABLE %I ALTER COLUMN destination_id SET (n_distinct = ${PLANNED_DESTINATIONS})', t || '_p' || n);
            END IF;
          END LOOP;
          created := created + 1;
        EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
          RAISE WARNING 'job partition % not made now: the DEFAULT partition is busy; the next sweep tries again', n;
        END;
      END LOOP;
      RETURN created;
    END $$`).execute(db);
  const { rows } = await sql<{ leaf: string }>`
    SELECT c.relname AS leaf FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent IN ('br_job_rows'::regclass, 'br_job_exceptions'::regclass) ORDER BY 1`.execute(db);
  for (const { leaf } of rows) {
    await sql`ALTER TABLE ${sql.table(leaf)} ALTER COLUMN destination_id SET (n_distinct = ${sql.lit(PLANNED_DESTINATIONS)})`.execute(db);
    await sql`ANALYZE ${sql.table(leaf)}`.execute(db);
  }
}
