/**
 * SQL for `br_job_payloads`: the events themselves, written once at enqueue (insertJobs), read
 * with the claim (claimReadyJobs joins them in) and here for display, deleted with their job by
 * retention. Kept apart from `br_jobs` so state changes never copy them.
 * Stored as the JSON text they were accepted as (see migration 2026-12-02).
 */
import { sql, type Kysely } from 'kysely';
import type { JsonObject } from '../manager/contract.ts';
import type { Database } from '../db/schema.ts';

/** The stored JSON texts of the given jobs, keyed by job id. */
export async function readPayloadTexts(db: Kysely<Database>, jobIds: readonly string[]): Promise<Map<string, string>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await sql<{ job_id: string; payload: string }>`
    SELECT job_id, payload FROM br_job_payloads WHERE job_id = ANY(${jobIds}::bigint[])
  `.execute(db);
  return new Map(rows.map((row) => [row.job_id, row.payload]));
}

/** Payloads as objects, for showing them (CLI `jobs --payload`, `GET /v1/jobs/{id}`). */
export async function readPayloads(db: Kysely<Database>, jobIds: readonly string[]): Promise<Map<string, JsonObject>> {
  const texts = await readPayloadTexts(db, jobIds);
  return new Map([...texts].map(([id, text]) => [id, JSON.parse(text) as JsonObject]));
}

export async function readPayload(db: Kysely<Database>, jobId: string): Promise<JsonObject | undefined> {
  return (await readPayloads(db, [jobId])).get(jobId);
}
