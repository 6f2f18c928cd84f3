/**
 * Partitions of the job tables (`br_job_rows`, `br_job_payloads`, `br_job_exceptions`), ranged by
 * job id, 1,000,000 ids each, with a DEFAULT partition catching ids beyond the last one made.
 * The sweeper keeps two widths made ahead of the id sequence and drops, as a whole, a partition
 * whose jobs are all final and finished longer ago than the retention age: no bulk DELETE, no
 * dead tuples, no vacuum debt. The DDL that makes partitions is the database function
 * `br_ensure_job_partitions` (migrations 2026-12-06 and 2026-12-07: each partition of the job
 * rows and exceptions is made with `n_distinct` set on `destination_id`, see the latter's why).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

type Db = Kysely<Database>;

export const PARTITION_WIDTH = 1_000_000;
const TABLES = ['br_job_exceptions', 'br_job_payloads', 'br_job_rows'] as const;
/**
 * How long partition DDL (a drop, or making one) waits for the job tables' locks before leaving the
 * partition to the next sweep: below PostgreSQL's deadlock_timeout (1 s by default), so the sweep
 * gives up before any router statement waiting on it could be chosen as a deadlock's victim.
 */
const PARTITION_LOCK_TIMEOUT_MS = 200;

/**
 * Makes partitions up to two widths past the next job id, and the partition of every range that
 * has jobs in the DEFAULT partition (ids the sequence reached before a partition was made for
 * them: the function moves them into the new partition, see migration 2026-12-06T06), so retention
 * can drop them with their partition. Returns how many were made.
 *
 * Making a partition takes an exclusive lock on each parent, one after the other, which deadlocked
 * with the router's statements that hold one job table and want the next (the soak's probe at
 * 60,000 events/s: a router statement was the victim, its upload was resent after the lease, and
 * p99 went from 0.4 s to 30 s). So, only when a partition is missing, the three parents are locked
 * first in one statement, in the order the drop uses, with a timeout below deadlock_timeout: a busy
 * moment leaves the partition to the next sweep (two widths ahead leaves many sweeps of slack) and
 * the router is never the deadlock's victim. Two processes sweeping at once may both try to make
 * one: the loser's "already exists" is no error.
 */
export async function ensureJobPartitions(db: Db): Promise<number> {
  try {
    return await db.transaction().execute(async (trx) => {
      // Read first, made after: DDL on a table the same statement still reads is refused.
      const { rows: spans } = await sql<{ first: string; last: string; missing: boolean }>`
        SELECT first, last, EXISTS (
          SELECT 1 FROM generate_series(first / ${PARTITION_WIDTH}, last / ${PARTITION_WIDTH}) n
          WHERE to_regclass('br_job_rows_p' || n) IS NULL) AS missing
        FROM (
          SELECT greatest(last_value, 0) AS first, greatest(last_value, 0) + ${2 * PARTITION_WIDTH} AS last FROM br_job_ids
          UNION ALL
          SELECT n * ${PARTITION_WIDTH}, n * ${PARTITION_WIDTH} FROM (${rangesInDefault()}) d) s`.execute(trx);
      const toMake = spans.filter((span) => span.missing);
      if (toMake.length === 0) return 0;
      await lockJobTables(trx);
      let made = 0;
      for (const span of toMake) {
        const { rows } = await sql<{ n: number }>`SELECT br_ensure_job_partitions(${span.first}::bigint, ${span.last}::bigint) AS n`.execute(trx);
        made += Number(rows[0]?.n ?? 0);
      }
      return made;
    });
  } catch (error) {
    // 42P07: another process made it.
    if ((error as { code?: string }).code === '42P07' || lockNotGranted(error)) return 0;
    throw error;
  }
}

/**
 * The three job tables' exclusive locks for partition DDL, in one statement, always in this order,
 * waiting at most PARTITION_LOCK_TIMEOUT_MS (for the rest of the caller's transaction).
 */
async function lockJobTables(trx: Db): Promise<void> {
  await sql`SET LOCAL lock_timeout = ${sql.lit(`${PARTITION_LOCK_TIMEOUT_MS}ms`)}`.execute(trx);
  await sql`LOCK TABLE br_job_rows, br_job_exceptions, br_job_payloads IN ACCESS EXCLUSIVE MODE`.execute(trx);
}

/** `lockJobTables` gave up: 55P03, not granted in time; 40P01, chosen as a deadlock's victim all the same. */
function lockNotGranted(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === '55P03' || code === '40P01';
}

/** Partition numbers with rows in any DEFAULT partition (which holds only the overflow, so is small). */
function rangesInDefault() {
  return sql`
    SELECT DISTINCT id / ${PARTITION_WIDTH} AS n FROM br_job_rows_default
    UNION SELECT DISTINCT job_id / ${PARTITION_WIDTH} FROM br_job_payloads_default
    UNION SELECT DISTINCT job_id / ${PARTITION_WIDTH} FROM br_job_exceptions_default`;
}

/** How often the payload parent's statistics across its partitions are gathered again (see refreshJobStatistics). */
const PAYLOAD_PARENT_STATISTICS_EVERY_MS = 10 * 60_000;

/**
 * Keeps planner statistics of the job tables fresh; returns how many ANALYZEs ran. Not left to
 * autovacuum: it never analyzes a partitioned parent, looks at partitions once a minute, and until
 * then the planner guesses the claim's anti-join against exception rows badly and reads the whole
 * backlog above the cursor on every claim (measured, 200,000 jobs claimed in batches of 10,000 on
 * one connection: 16k jobs/s before these three tables had statistics, 73k/s after).
 *
 * `br_job_rows` and `br_job_exceptions` are analyzed as parents (which samples every partition
 * again) whenever one of their partitions has no statistics yet or changed by more than a tenth
 * (at least 1,000 rows): the claim's anti-join needs their statistics across partitions current
 * (the soak's probe, with them refreshed only every 10 minutes, fell from 41,000 to 4,000
 * deliveries/s as the backlog grew). `br_job_payloads`, only ever read by job id, gets its changed
 * partitions analyzed on their own and its parent when it has no statistics or every 10 minutes:
 * its parent ANALYZE on every sweep, up to 1.4 s of wide rows each 5 s, was most of the sweeper's
 * CPU at 60,000 events/s.
 */
export async function refreshJobStatistics(db: Db): Promise<number> {
  const { rows } = await sql<{ target: string }>`
    WITH leaves AS (
      SELECT relname, substring(relname FROM '^(br_job_rows|br_job_payloads|br_job_exceptions)_') AS parent,
             coalesce(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > greatest(1000, n_live_tup / 10) AS stale
      FROM pg_stat_user_tables
      WHERE relname ~ '^br_job_(rows|payloads|exceptions)_(p[0-9]+|default)$'
    ), parents AS (
      SELECT l.parent FROM leaves l JOIN pg_stat_user_tables t ON t.relname = l.parent
      WHERE l.stale
      GROUP BY l.parent, t.last_analyze
      HAVING l.parent <> 'br_job_payloads' OR t.last_analyze IS NULL
          OR t.last_analyze < now() - ${PAYLOAD_PARENT_STATISTICS_EVERY_MS}::double precision * interval '1 millisecond'
    )
    SELECT parent AS target FROM parents
    UNION ALL
    SELECT relname FROM leaves WHERE stale AND parent NOT IN (SELECT parent FROM parents)`.execute(db);
  for (const { target } of rows) await sql`ANALYZE ${sql.table(target)}`.execute(db);
  return rows.length;
}

interface Partition {
  n: number;
  first: number;
  /** First id of the next partition. */
  end: number;
}

/** Partitions the id sequence has moved past (no new job can land in them), oldest first. */
async function passedPartitions(db: Db): Promise<Partition[]> {
  const { rows } = await sql<{ n: string }>`
    SELECT substring(c.relname FROM '^br_job_rows_p([0-9]+)$') AS n
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'br_job_rows'::regclass AND c.relname ~ '^br_job_rows_p[0-9]+$'
      AND (substring(c.relname FROM '^br_job_rows_p([0-9]+)$')::bigint + 1) * ${PARTITION_WIDTH} - 1
          <= (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM br_job_ids)
    ORDER BY 1::bigint`.execute(db);
  return rows.map((r) => partitionNumbered(Number(r.n)));
}

function partitionNumbered(n: number): Partition {
  return { n, first: n * PARTITION_WIDTH, end: (n + 1) * PARTITION_WIDTH };
}

/**
 * True when every job in [first, end) is final and finished before the cutoff, and no pending
 * submission owns one. Reads the given tables (the parents, or a detached partition's own).
 *
 * Each "is there a job here" question is a scalar subquery that stops at the first row it finds
 * (an index probe per upload, cursor or pending submission), on purpose: written as EXISTS the
 * planner made a merge semi join that read the partition's million rows whenever one upload
 * straddling it had finished recently (the soak: 0.6-0.7 s per check, and the second check runs
 * under the job tables' exclusive lock, so enqueue and claims stood still that long every
 * partition). A scalar subquery is never pulled up into a join; its exception test is one too.
 */
async function allFinished(db: Db, p: Partition, rowsTable: string, exceptionsTable: string, maxAgeMs: number): Promise<boolean> {
  const rowsT = sql.table(rowsTable);
  const excT = sql.table(exceptionsTable);
  const last = p.end - 1;
  const noException = sql`(SELECT 1 FROM ${excT} e WHERE e.job_id = r.id) IS NULL`;
  const { rows } = await sql<{ open: boolean }>`
    WITH cutoff AS (SELECT now() - ${maxAgeMs}::double precision * interval '1 millisecond' AS at)
    SELECT
      EXISTS (SELECT 1 FROM ${excT} e, cutoff WHERE e.job_id >= ${p.first} AND e.job_id <= ${last}
                AND (e.state IN ('waiting', 'executing', 'importing') OR e.finished_at IS NULL OR e.finished_at >= cutoff.at))
      OR EXISTS (SELECT 1 FROM br_uploads u, cutoff
                 WHERE u.first_job_id <= ${last} AND u.last_job_id >= ${p.first}
                   AND (u.jobs_state = 'executing' OR u.jobs_finished_at IS NULL OR u.jobs_finished_at >= cutoff.at)
                   AND (SELECT r.id FROM ${rowsT} r
                        WHERE r.destination_id = u.destination_id
                          AND r.id BETWEEN greatest(u.first_job_id, ${p.first}) AND least(u.last_job_id, ${last})
                          AND ${noException}
                        ORDER BY r.id LIMIT 1) IS NOT NULL)
      OR EXISTS (SELECT 1 FROM br_claim_cursors c
                 WHERE (SELECT r.id FROM ${rowsT} r
                        WHERE r.destination_id = c.destination_id
                          AND r.id BETWEEN greatest(c.claimed_through + 1, ${p.first}) AND ${last}
                          AND ${noException}
                        ORDER BY r.id LIMIT 1) IS NOT NULL)
      OR EXISTS (SELECT 1 FROM br_submissions s
                 WHERE s.state = 'pending'
                   AND (SELECT r.id FROM ${rowsT} r
                        WHERE r.submission_id = s.id AND r.id BETWEEN ${p.first} AND ${last} LIMIT 1) IS NOT NULL)
      AS open
  `.execute(db);
  return rows[0]?.open === false;
}

/** Whether partition `n`'s jobs are all final and finished more than `maxAgeMs` ago: what lets retention drop it. */
export function partitionJobsFinished(db: Db, n: number, maxAgeMs: number): Promise<boolean> {
  return allFinished(db, partitionNumbered(n), 'br_job_rows', 'br_job_exceptions', maxAgeMs);
}

class StillOpen extends Error {}

/**
 * Drops every passed partition whose jobs are all finished longer than `maxAgeMs` ago (payloads
 * and exception rows with them) and returns how many jobs went. DETACH and DROP take an exclusive
 * lock on the parent tables, and every statement on the job tables queues behind a waiting one, so
 * the lock is asked for once, for all three tables, with a short timeout: a busy moment skips the
 * partition until the next sweep instead of stalling deliveries. The timeout is below PostgreSQL's
 * deadlock_timeout (1 s by default), so when the wait would deadlock with a claim holding one of
 * the tables (the soak run saw it: the claim's gate had read the job rows, the sweep held the
 * payloads), the sweep gives up first and the claim never fails. Its jobs are counted before the
 * lock: nothing new can land in a passed partition. (DETACH ... CONCURRENTLY is not allowed beside
 * a DEFAULT partition.)
 */
export async function dropFinishedPartitions(db: Db, maxAgeMs: number): Promise<number> {
  let dropped = 0;
  for (const p of await passedPartitions(db)) {
    if (!(await partitionJobsFinished(db, p.n, maxAgeMs))) continue;
    const { rows: counted } = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(`br_job_rows_p${p.n}`)}`.execute(db);
    try {
      dropped += await db.transaction().execute(async (trx) => {
        await lockJobTables(trx);
        for (const table of TABLES) {
          await sql`ALTER TABLE ${sql.table(table)} DETACH PARTITION ${sql.table(`${table}_p${p.n}`)}`.execute(trx);
        }
        // Checked again on the detached tables, now that nothing can write to them.
        if (!(await allFinished(trx, p, `br_job_rows_p${p.n}`, `br_job_exceptions_p${p.n}`, maxAgeMs))) throw new StillOpen();
        for (const table of TABLES) await sql`DROP TABLE ${sql.table(`${table}_p${p.n}`)}`.execute(trx);
        // Uploads straddling the edge keep counting only the jobs still there.
        await sql`
          UPDATE br_uploads u SET range_count = (
            SELECT count(*) FROM br_job_rows r WHERE r.destination_id = u.destination_id AND r.id BETWEEN u.first_job_id AND u.last_job_id)
          WHERE u.first_job_id < ${p.end} AND u.last_job_id >= ${p.first}`.execute(trx);
        return Number(counted[0]?.n ?? 0);
      });
    } catch (error) {
      if (error instanceof StillOpen || lockNotGranted(error)) continue;
      throw error;
    }
  }
  return dropped;
}
