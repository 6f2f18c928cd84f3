/**
 * SQL for `br_job_payloads`: the events themselves, written once at enqueue, read at staging time,
 * deleted with their job by retention. Kept apart from `br_jobs` so state changes never copy them.
 */
import { sql, type Kysely } from 'kysely';
import type { JsonObject } from '../manager/contract.ts';
import type { Database } from './schema.ts';

/** Payloads of the given jobs, keyed by job id. */
export async function readPayloads(db: Kysely<Database>, jobIds: readonly string[]): Promise<Map<string, JsonObject>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await sql<{ job_id: string; payload: JsonObject }>`
    SELECT job_id, payload FROM br_job_payloads WHERE job_id = ANY(${jobIds}::bigint[])
  `.execute(db);
  return new Map(rows.map((row) => [row.job_id, row.payload]));
}

export async function readPayload(db: Kysely<Database>, jobId: string): Promise<JsonObject | undefined> {
  return (await readPayloads(db, [jobId])).get(jobId);
}
