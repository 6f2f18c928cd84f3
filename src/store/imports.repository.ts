/**
 * SQL for `br_imports`: vendor-side imports created by uploads, polled until done. The poll loop
 * claims due imports under a short lease so several processes poll side by side and a poller
 * that dies simply lets its lease lapse; everything needed to poll lives in `handle`.
 */
import { sql, type Kysely } from 'kysely';
import { isBigintId } from '../db/ids.ts';
import type { JsonObject } from '../manager/contract.ts';
import type { Database, ImportRow, ImportState } from '../db/schema.ts';
import type { Lease } from './uploads.repository.ts';
import { sameDestination } from './destination-scope.ts';

type Db = Kysely<Database>;
const ms = (value: number) => sql`${value}::double precision * interval '1 millisecond'`;

/** Records the imports of an upload; returns their ids in input order. */
export async function insertImports(
  db: Db,
  options: { uploadId: string; destinationId: string; handles: readonly JsonObject[]; firstPollInMs: number },
): Promise<string[]> {
  if (options.handles.length === 0) return [];
  const { rows } = await sql<{ id: string; ord: string }>`
    INSERT INTO br_imports (upload_id, destination_id, handle, next_poll_at)
    SELECT ${options.uploadId}::bigint, ${options.destinationId}, h.handle::jsonb, now() + ${ms(options.firstPollInMs)}
    FROM unnest(${options.handles.map((h) => JSON.stringify(h))}::text[]) WITH ORDINALITY AS h(handle, ord)
    ORDER BY h.ord
    RETURNING id
  `.execute(db);
  return rows.map((r) => r.id).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
}

export async function countOpenImports(db: Db, destinationId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM br_imports WHERE destination_id = ${destinationId} AND state = 'polling'
  `.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** Claims imports whose next poll is due, for the given destinations. */
export async function claimDueImports(
  db: Db,
  options: { destinationIds: readonly string[]; lease: Lease; limit: number },
): Promise<ImportRow[]> {
  if (options.destinationIds.length === 0) return [];
  const { rows } = await sql<ImportRow>`
    UPDATE br_imports SET lease_owner = ${options.lease.owner}, lease_expires_at = now() + ${ms(options.lease.ms)}
    WHERE id IN (
      SELECT id FROM br_imports
      WHERE state = 'polling' AND next_poll_at <= now() AND destination_id = ANY(${options.destinationIds}::text[])
        AND (lease_expires_at IS NULL OR lease_expires_at < now())
      ORDER BY next_poll_at LIMIT ${options.limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING *
  `.execute(db);
  return rows;
}

/** Still running: remember progress, schedule the next poll, release the lease. */
export async function schedulePoll(
  db: Db,
  options: { importId: string; destinationId?: string; owner: string; progress: number | null; inMs: number },
): Promise<boolean> {
  const result = await sql`
    UPDATE br_imports SET progress = coalesce(${options.progress}::real, progress), poll_count = poll_count + 1,
      next_poll_at = now() + ${ms(options.inMs)}, lease_owner = NULL, lease_expires_at = NULL
    WHERE ${sameDestination(sql.ref('destination_id'), options.destinationId)} AND id = ${options.importId}::bigint AND state = 'polling' AND lease_owner = ${options.owner}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n) === 1;
}

/** Done (either way). Guarded by the poll lease so two pollers cannot both apply results. */
export async function finishImport(
  db: Db,
  options: {
    importId: string;
    /** The import's destination, named in the statement so it routes to one shard. */
    destinationId?: string;
    owner: string;
    state: Exclude<ImportState, 'polling'>;
    error?: string | null;
    /** Stable code of `error`. */
    errorCode?: string | null;
    /** Jobs whose outcome the vendor's results did not confirm (see br_imports.unconfirmed_jobs). */
    unconfirmedJobs?: number;
  },
): Promise<boolean> {
  const result = await sql`
    UPDATE br_imports SET state = ${options.state}, last_error = ${options.error ?? null},
      error_code = ${options.errorCode ?? null}, unconfirmed_jobs = ${options.unconfirmedJobs ?? 0},
      progress = CASE WHEN ${options.state} = 'completed' THEN 100 ELSE progress END,
      poll_count = poll_count + 1, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
    WHERE ${sameDestination(sql.ref('destination_id'), options.destinationId)} AND id = ${options.importId}::bigint AND state = 'polling' AND lease_owner = ${options.owner}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n) === 1;
}

/** Jobs still waiting on an import, with the correlation keys persisted at upload time. */
export async function jobsOfImport(
  db: Db,
  importId: string,
  destinationId?: string,
): Promise<Array<{ jobId: string; correlationKey: string | null }>> {
  const { rows } = await sql<{ id: string; correlation_key: string | null }>`
    SELECT job_id AS id, correlation_key FROM br_job_exceptions
    WHERE ${sameDestination(sql.ref('destination_id'), destinationId)} AND import_id = ${importId}::bigint AND state = 'importing'
    ORDER BY job_id
  `.execute(db);
  return rows.map((r) => ({ jobId: r.id, correlationKey: r.correlation_key }));
}

export async function importsOfUpload(db: Db, uploadId: string): Promise<ImportRow[]> {
  return db.selectFrom('br_imports').selectAll().where('upload_id', '=', uploadId).orderBy('id').execute();
}

export async function getImport(db: Db, id: string): Promise<ImportRow | undefined> {
  if (!isBigintId(id)) return undefined;
  return db.selectFrom('br_imports').selectAll().where('id', '=', id).executeTakeFirst();
}
