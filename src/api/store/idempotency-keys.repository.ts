/**
 * SQL for `br_idempotency_keys`. The key row is inserted first, in the same transaction as the
 * submission it guards: a concurrent request with the same key then blocks on the primary key
 * until the first commits (and sees its row) or rolls back (and takes the key itself), so two
 * racing repeats can never both enqueue.
 */
import { sql, type Kysely } from 'kysely';
import type { JsonObject } from '../../manager/contract.ts';
import type { Database } from '../../db/schema.ts';

type Db = Kysely<Database>;

export interface IdempotencyRecord {
  requestHash: string;
  submissionId: string;
  response: JsonObject | null;
}

/** Takes the key for this request; false when it was already taken (then read it with {@link getIdempotencyKey}). */
export async function claimIdempotencyKey(
  db: Db,
  row: { keyId: string; key: string; requestHash: string; submissionId: string },
): Promise<boolean> {
  const { rows } = await sql<{ one: number }>`
    INSERT INTO br_idempotency_keys (key_id, idempotency_key, request_hash, submission_id)
    VALUES (${row.keyId}, ${row.key}, ${row.requestHash}, ${row.submissionId})
    ON CONFLICT DO NOTHING
    RETURNING 1 AS one
  `.execute(db);
  return rows.length === 1;
}

export async function getIdempotencyKey(db: Db, keyId: string, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await db
    .selectFrom('br_idempotency_keys')
    .select(['request_hash', 'submission_id', 'response'])
    .where('key_id', '=', keyId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  return row && { requestHash: row.request_hash, submissionId: row.submission_id, response: row.response };
}

/** Stores the answer given to the first request, for repeats. */
export async function saveIdempotentResponse(db: Db, keyId: string, key: string, response: JsonObject): Promise<void> {
  await db
    .updateTable('br_idempotency_keys')
    .set({ response: JSON.stringify(response) })
    .where('key_id', '=', keyId)
    .where('idempotency_key', '=', key)
    .execute();
}

/** Forgets keys older than `ttlMs`, at most `batchSize` per call so the delete stays short. */
export async function deleteExpiredIdempotencyKeys(db: Db, ttlMs: number, batchSize: number): Promise<number> {
  const result = await sql`
    DELETE FROM br_idempotency_keys WHERE (key_id, idempotency_key) IN (
      SELECT key_id, idempotency_key FROM br_idempotency_keys
      WHERE created_at < now() - ${ttlMs}::double precision * interval '1 millisecond'
      ORDER BY created_at LIMIT ${batchSize})
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
